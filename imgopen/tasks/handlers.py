"""What runs a task of each kind: "tool" (the tool registry), "sd" (the engine), "training"."""

from __future__ import annotations

from typing import Any, Protocol

from imgopen.db.tables import Task
from imgopen.tasks.context import TaskContext


class TaskHandler(Protocol):
    def run(self, task: Task, ctx: TaskContext) -> dict[str, Any]:
        """Do the work; the JSON result. Raise ImgOpenError for failures a user can act on."""
        ...
