"""Prometheus metrics, in a registry of the app's own (no process-global state)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from imgopen.clock import now_ms


class _PoolStats(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def pool(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def oldest_ms(self) -> int: ...


class _QueueCollector(Collector):
    """Read from the task table and the workers at each scrape: the same figures from every API
    process of a cluster."""

    def __init__(self, stats: Callable[[], Sequence[_PoolStats]], workers_alive: Callable[[], dict[str, int]]) -> None:
        self._stats = stats
        self._workers_alive = workers_alive

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tasks = GaugeMetricFamily("imgopen_tasks", "Tasks queued or running, by pool", labels=["state", "pool"])
        oldest = GaugeMetricFamily(
            "imgopen_queue_oldest_seconds", "Age of the oldest queued task, by pool", labels=["pool"]
        )
        now = now_ms()
        for item in sorted(self._stats(), key=lambda s: (s.state, s.pool)):
            tasks.add_metric([item.state, item.pool], item.count)
            if item.state == "queued":
                oldest.add_metric([item.pool], max(0.0, (now - item.oldest_ms) / 1000))
        workers = GaugeMetricFamily("imgopen_workers_alive", "Workers alive, by pool", labels=["pool"])
        for pool, count in sorted(self._workers_alive().items()):
            workers.add_metric([pool], count)
        yield tasks
        yield oldest
        yield workers


class _StorageCollector(Collector):
    def __init__(self, stored_bytes: Callable[[], dict[str, int]]) -> None:
        self._stored_bytes = stored_bytes

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "imgopen_key_stored_bytes", "Bytes of inputs and outputs each access key keeps in storage", labels=["key"]
        )
        for key, stored in sorted(self._stored_bytes().items()):
            gauge.add_metric([key], stored)
        yield gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "imgopen_http_requests", "HTTP requests by route and API code", ["route", "code"], registry=self.registry
        )
        self.request_seconds = Histogram(
            "imgopen_http_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.submitted = Counter("imgopen_tasks_submitted", "Tasks created", ["kind", "tool"], registry=self.registry)
        self.finished = Counter(
            "imgopen_tasks_finished", "Tasks ended, by final state", ["kind", "tool", "state"], registry=self.registry
        )
        self.run_seconds = Histogram(
            "imgopen_task_run_seconds",
            "Time a worker spent on a task",
            ["kind", "tool"],
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
        )
        self.callbacks = Counter(
            "imgopen_callbacks", "Callback delivery attempts by outcome", ["outcome"], registry=self.registry
        )

    def watch_storage(self, stored_bytes: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_StorageCollector(stored_bytes))

    def watch_queue(
        self, stats: Callable[[], Sequence[_PoolStats]], workers_alive: Callable[[], dict[str, int]]
    ) -> None:
        self.registry.register(_QueueCollector(stats, workers_alive))

    def task_finished(self, kind: str, tool: str, state: str, seconds: float) -> None:
        self.finished.labels(kind, tool, state).inc()
        self.run_seconds.labels(kind, tool).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
