"""What runs a task of each kind: "tool" (the tool registry), "sd" (the engine), "training"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from imgopen.db.tables import Task
from imgopen.tasks.context import TaskContext


class TaskHandler(Protocol):
    def run(self, task: Task, ctx: TaskContext) -> dict[str, Any]:
        """Do the work; the JSON result. Raise ImgOpenError for failures a user can act on."""
        ...


# Called once per task of a batch, as soon as its outcome is known: the result, or the exception.
BatchDone = Callable[[int, dict[str, Any] | BaseException], None]


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that can run several compatible tasks as one batch (coalesced generation)."""

    @property
    def batch_limit(self) -> int:
        """Most work units (images) in one batch; 1: no batches."""
        ...

    def batch_key(self, task: Task) -> str | None:
        """Tasks with the same key run together; None: this task runs alone."""
        ...

    def batch_images(self, task: Task) -> int:
        """The task's share of batch_limit."""
        ...

    def run(self, task: Task, ctx: TaskContext) -> dict[str, Any]: ...

    def run_batch(self, tasks: list[Task], ctxs: list[TaskContext], done: BatchDone) -> None:
        """Run the tasks together; report each one's outcome through `done(index, outcome)`."""
        ...
