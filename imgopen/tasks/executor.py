"""The executor interface: dispatches queued tasks to workers. The task table stays the source of
truth; an executor only claims rows and hands them to a TaskRunner."""

from __future__ import annotations

from typing import Protocol


class Executor(Protocol):
    def start(self) -> None:
        """Start workers (and recover what a previous run left behind)."""

    def stop(self) -> None:
        """Stop taking tasks; running ones go back to the queue."""

    def notify(self, pool: str) -> None:
        """A task was queued in `pool`."""

    def run_now(self, task_id: str) -> bool:
        """Run a queued task in the caller's thread; False when a worker had already taken it."""
        ...

    def request_cancel(self, task_id: str) -> None:
        """Stop a running task at its next step (the cancel flag is already in the table)."""

    def worker_count(self, pool: str) -> int:
        """Workers of `pool` this executor runs (0: the pool is served elsewhere or not at all)."""
        ...

    def alive_workers(self) -> dict[str, int]:
        """Pool -> workers of this executor that are alive now (readiness)."""
        ...
