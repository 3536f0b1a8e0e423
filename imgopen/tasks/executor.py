"""The executor interface: gets queued tasks to workers. The task table stays the source of truth;
an executor only tells workers about rows, and workers claim them (tasks/store.py)."""

from __future__ import annotations

from typing import Any, Protocol

from imgopen.db.tables import Task
from imgopen.tasks.insertion import Insertion

# Where tasks run: "gpu" (diffusion), "cpu" (image tools), "train" (LoRA training). A worker
# process serves one or more pools; `imgopen serve` runs "train" on its GPU workers.
POOLS = ("gpu", "cpu", "train")


class Executor(Protocol):
    def start(self) -> None:
        """Start workers or the dispatcher (and recover what a previous run left behind)."""

    def stop(self) -> None:
        """Stop taking tasks; running ones go back to the queue."""

    def reserve(self, pool: str) -> str | None:
        """An idle worker of this process held for the next task of `pool`: its lease owner name,
        under which the submit inserts the task already claimed (one transaction fewer), then
        dispatch() hands it over. None: none is idle here (insert the task queued). A reservation
        not handed a task must be given back (unreserve)."""
        ...

    def unreserve(self, owner: str) -> None:
        """Give back a reservation that got no task (the submit was refused or already existed)."""

    def dispatch(self, task: Task, insertion: Insertion | None = None) -> None:
        """`task` was committed queued (or claimed by a reservation): have a worker of its pool take
        it. With `insertion`, `task` is claimed by a reservation and still being inserted: its
        worker starts on it now and waits for the insert before it writes (tasks/insertion.py)."""

    def caller_lease(self) -> str | None:
        """The lease owner under which a request runs the task it submits (a synchronous tool): the
        submit inserts the task claimed under it, and run_now runs it without a claim (one write
        fewer, and no idle worker can take it first and make the request wait for it). None where
        tasks run in other processes (the task is inserted queued)."""
        ...

    def run_now(self, task: Task, claimed: bool) -> bool:
        """Run `task` in the caller's thread: `claimed`, as the caller inserted it (under
        caller_lease()); else a queued task, claimed first. False when that cannot be (a worker had
        already taken it, or tasks run in other processes)."""
        ...

    def request_cancel(self, task_id: str) -> None:
        """Stop a running task at its next step (the cancel flag is already in the table)."""

    def workers_alive(self) -> dict[str, int]:
        """Pool -> workers alive now (across the cluster, for the Celery executor)."""
        ...

    def worker_checks(self) -> dict[str, str]:
        """Readiness lines about the workers, e.g. {"gpu_workers": "ok"} or "error: ..."."""
        ...

    def unload_models(self) -> dict[str, Any]:
        """Drop every cached model not in use, wherever the workers are; what was done."""
        ...
