"""The task state machine and its two integer encodings of API.md section 2."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({TaskState.SUCCESS, TaskState.FAILED, TaskState.CANCELLED})

# queued -> running -> success | failed | cancelled; queued -> cancelled; running -> queued (worker died)
ALLOWED = {
    TaskState.QUEUED: {TaskState.RUNNING, TaskState.CANCELLED, TaskState.FAILED},
    TaskState.RUNNING: {TaskState.SUCCESS, TaskState.FAILED, TaskState.CANCELLED, TaskState.QUEUED},
}

_SD_STATUS = {
    TaskState.QUEUED: 1,
    TaskState.RUNNING: 3,
    TaskState.SUCCESS: 2,
    TaskState.FAILED: 4,
    TaskState.CANCELLED: 5,
}
_TOOL_STATUS = {
    TaskState.QUEUED: 0,
    TaskState.RUNNING: 0,
    TaskState.SUCCESS: 1,
    TaskState.FAILED: 2,
    TaskState.CANCELLED: 3,
}


def sd_status(state: str) -> int:
    """`status` of the SD queries: 1 queued, 3 running, 2 success, 4 failed, 5 cancelled."""
    return _SD_STATUS[TaskState(state)]


def tool_status(state: str) -> int:
    """`status` of tool and training queries: 0 processing, 1 success, 2 failed, 3 cancelled."""
    return _TOOL_STATUS[TaskState(state)]
