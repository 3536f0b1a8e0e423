"""A whole cluster on this machine, for tests and benchmarks: one `imgopen api` process and
`imgopen worker` processes on a real broker (RabbitMQ or Redis), PostgreSQL and an S3 server."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from imgopen.client import Client
from imgopen.testing.server import ApiProcess, WorkerProcess

BROKERS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
    "redis": "redis://127.0.0.1:6379/0",
}


class LocalCluster:
    def __init__(self, root: Path, broker_url: str, database_url: str, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.name = f"t{uuid.uuid4().hex[:10]}"
        self.env = {
            "IMGOPEN_EXECUTOR": "celery",
            "IMGOPEN_BROKER_URL": broker_url,
            "IMGOPEN_CLUSTER_NAME": self.name,
            "IMGOPEN_DATABASE_URL": database_url,
            **(env or {}),
        }
        self.api = ApiProcess(root / "api", self.env)
        self.workers: dict[str, WorkerProcess] = {}
        self.client: Client | None = None

    @property
    def base_url(self) -> str:
        return self.api.base_url

    def start(self) -> LocalCluster:
        self.api.start()
        return self

    def readyz(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.base_url}/readyz", timeout=10, trust_env=False).json()
        return answer

    def alive(self, name: str) -> bool:
        """Whether the API sees the worker `name` alive (its heartbeat is recent)."""
        answer = httpx.get(f"{self.base_url}/readyz", timeout=5, trust_env=False).json()
        return name in answer.get("workers", [])

    def add_worker(
        self, name: str, pools: Sequence[str], env: dict[str, str] | None = None, concurrency: int | None = None
    ) -> WorkerProcess:
        return self.add_workers({name: pools}, env, concurrency)[name]

    def add_workers(
        self, pools: dict[str, Sequence[str]], env: dict[str, str] | None = None, concurrency: int | None = None
    ) -> dict[str, WorkerProcess]:
        """Workers started together (their slow imports overlap), returned once the cluster sees all."""
        started = {
            name: WorkerProcess(name, serves, self.root / name, {**self.env, **(env or {})}, concurrency)
            for name, serves in pools.items()
        }
        for worker in started.values():
            worker.launch()
        for worker in started.values():
            self._wait_for(worker)
        self.workers.update(started)
        return started

    def _wait_for(self, worker: WorkerProcess) -> None:
        def ready() -> bool:
            return self.alive(worker.name) and "ready." in worker.log()

        worker.wait_until(ready, 180, f"worker {worker.name}")

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.api.stop()
        self.delete_queues()

    def delete_queues(self) -> None:
        """The broker queues of this cluster (their names carry its name)."""
        from kombu.connection import Connection

        from imgopen.tasks.executor import POOLS

        with Connection(self.env["IMGOPEN_BROKER_URL"]) as connection:  # type: ignore[no-untyped-call]
            channel = connection.channel()
            for pool in POOLS:
                try:
                    channel.queue_delete(f"{self.name}.{pool}")
                except Exception:  # never declared
                    channel = connection.channel()
