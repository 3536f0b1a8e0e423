"""Running an Img Open tool for the A1111 face (extras, interrogate, ControlNet detect): the same
task a `tool/...` request makes, waited for; failures in A1111's HTTP statuses."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from imgopen.api.errors import A1111_STATUS as STATUS
from imgopen.api.routes.tools import run_tool
from imgopen.db.tables import Task
from imgopen.errors import ImgOpenError
from imgopen.roles.api import ApiServices
from imgopen.tasks.states import TaskState

TOOL_WAIT = 1800.0


async def run(services: ApiServices, key_id: str, code: str, fields: dict[str, Any]) -> Task:
    try:
        task = await run_tool(services, key_id, code, fields, TOOL_WAIT)
    except ImgOpenError as exc:
        raise HTTPException(STATUS.get(exc.code, 500), exc.msg) from exc
    if task.state != TaskState.SUCCESS.value:
        raise HTTPException(STATUS.get(task.error_code or "", 500), task.error_msg or f"the task ended {task.state}")
    return task


def first_output(task: Task) -> str:
    """A task's first output, as an input reference its key may use (stored:...)."""
    assert task.result is not None
    return f"stored:{task.result['outputImageUrl']}"
