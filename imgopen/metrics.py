"""Prometheus metrics, in a registry of the app's own (no process-global state)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _QueueCollector(Collector):
    def __init__(self, counts: Callable[[], dict[tuple[str, str], int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("imgopen_tasks", "Tasks queued or running, by pool", labels=["state", "pool"])
        for (state, pool), count in sorted(self._counts().items()):
            gauge.add_metric([state, pool], count)
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

    def watch_queue(self, counts: Callable[[], dict[tuple[str, str], int]]) -> None:
        self.registry.register(_QueueCollector(counts))

    def task_finished(self, kind: str, tool: str, state: str, seconds: float) -> None:
        self.finished.labels(kind, tool, state).inc()
        self.run_seconds.labels(kind, tool).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
