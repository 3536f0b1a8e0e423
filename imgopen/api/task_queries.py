"""What every task query and cancel endpoint shares: long polling, and cancelling."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from imgopen.db.tables import Task
from imgopen.roles.api import ApiServices
from imgopen.tasks.states import TaskState


async def settled(
    services: ApiServices,
    find: Callable[[], Task],
    wait_seconds: float,
    task_id: str | None = None,
    running: Task | None = None,
) -> Task:
    """The task from `find`; with wait_seconds, not before it has ended or the time is up.
    `task_id`: the task's id when the caller knows it (and that it is its key's): a task that has
    just ended in this process is answered from its final row, without reading it again.
    `running`: the task as TaskStore.running_here gives it (the caller's, not ended): a query that
    waits starts waiting without reading the row (while the task runs, the event loop's work
    slows it down); it reads it if the time is up first.

    `find` runs on the event loop: it is one indexed read, cheaper than a hop to a thread and
    back (which, under load, waits for the GIL at each end)."""
    if running is not None and wait_seconds > 0:
        task = running
    else:
        task = (services.tasks.ended(task_id) if task_id else None) or find()
    deadline = time.monotonic() + wait_seconds
    waited = task.id

    def ended_here() -> bool:
        return services.tasks.ended(waited) is not None

    while not TaskState(task.state).is_final and (left := deadline - time.monotonic()) > 0:
        # Woken at once by this process's workers; the 1 s cap notices other processes' work.
        await services.waiters.wait(waited, min(left, 1.0), ended_here)
        task = services.tasks.ended(waited) or find()
    if task is running:
        task = find()  # the time was up before its end: its row as it is now
    return task


def cancel_task(services: ApiServices, task: Task) -> dict[str, Any]:
    """Drop a queued task, or ask a running one to stop at its next step."""
    state = services.tasks.cancel(task)
    if state == TaskState.CANCELLED:
        services.on_finished(task.id)
    else:
        services.executor.request_cancel(task.id)
    return {"cancelled": state.value in ("cancelled", "running"), "state": state.value}
