"""Request and answer schemas shared by the task endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SubmitFields(BaseModel):
    """Fields every asynchronous submit takes besides the tool's own."""

    model_config = ConfigDict(extra="ignore")

    businessTaskId: str = Field(
        min_length=1, max_length=128, description="Your id for this task, unique per key; query with it."
    )
    callbackUrl: str | None = Field(
        None,
        max_length=2048,
        description='Receives a POST with the query answer when the task ends; must answer {"code": "200"}.',
    )


SUBMIT_ENVELOPE_FIELDS = {"businessTaskId", "callbackUrl"}


class TaskRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    businessTaskId: str = Field(min_length=1, max_length=128, description="The businessTaskId given at submit.")


class TaskQuery(TaskRef):
    waitSeconds: float = Field(
        0,
        ge=0,
        le=60,
        description=(
            "Long polling: hold the answer until the task has ended or this many seconds have passed "
            "(0: answer at once)."
        ),
    )


class Submitted(BaseModel):
    task_id: str = Field(description="The server's id of the task.")
    taskId: str = Field(description="The same id.")
    businessTaskId: str = Field(description="Your id of the task.")


class CancelAnswer(BaseModel):
    cancelled: bool = Field(description="True when the task was dropped from the queue or will stop at its next step.")
    state: str = Field(description="The state after the call: cancelled, or running until the next step.")


class TaskProgressFields(BaseModel):
    state: str = Field(description="queued, running, success, failed or cancelled.")
    progress: float = Field(ge=0, le=1, description="0 to 1.")
    queuePosition: int | None = Field(description="1 for the next task to run; null unless queued.")
    errorMsg: str | None = Field(description="Why the task failed; null otherwise.")
    errorCode: str | None = Field(description="The error code of the failure (API.md section 1).")
    attempts: int = Field(description="Runs started so far; 2 means it was retried after its worker stopped.")
    createdAt: int = Field(description="Submit time, epoch milliseconds.")
    startedAt: int | None = Field(description="Start of the first run, epoch milliseconds.")
    finishedAt: int | None = Field(description="End time, epoch milliseconds.")
    filesExpired: bool = Field(
        description="The task's files were deleted by retention (IMGOPEN_RETENTION_DAYS): its URLs are null."
    )
