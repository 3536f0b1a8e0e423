"""The tool endpoints, built from the tool registry: submit, queryTask and cancelTask per tool.

No `from __future__ import annotations` here: FastAPI reads the annotations of the route
functions made in a loop, and their request models are local variables."""

import re
import time
import uuid
from functools import cache
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError, create_model

from imgopen.api.deps import KeyDep, ServicesDep
from imgopen.api.envelope import documented, ok
from imgopen.api.errors import describe_validation
from imgopen.api.lean_route import LeanRoute
from imgopen.api.schemas import (
    SUBMIT_ENVELOPE_FIELDS,
    CancelAnswer,
    SubmitFields,
    Submitted,
    TaskProgressFields,
    TaskQuery,
    TaskRef,
)
from imgopen.api.task_queries import cancel_task, settled
from imgopen.db.tables import Task
from imgopen.errors import ImgOpenError
from imgopen.roles.api import ApiServices
from imgopen.tasks.kinds import TOOL
from imgopen.tasks.states import TaskState
from imgopen.tasks.submit import Submission
from imgopen.tools.registry import AnySpec, ToolLookup


def _model_name(code: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[/_\-]", code))


def optional_copy(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The model with every field optional (result fields are absent until the task succeeds)."""
    fields: dict[str, Any] = {
        field_name: (field.annotation | None, Field(None, description=field.description))  # type: ignore[operator]
        for field_name, field in model.model_fields.items()
    }
    return create_model(name, **fields)


class ToolTaskFields(TaskProgressFields):
    businessTaskId: str = Field(description="Your id of the task.")
    taskId: str = Field(description="The server's id of the task.")
    toolCode: str = Field(description="The tool that runs it.")
    status: int = Field(description="0 processing (queued or running), 1 success, 2 failed, 3 cancelled.")
    outputImageUrl: str | None = Field(description="The (first) output image; null until success.")
    outputImageUrls: list[str] = Field(description="Every output image.")
    warnings: list[str] | None = Field(None, description="Things the tool noticed but worked around.")


def find_task(services: ApiServices, key_id: str, business_task_id: str, tool_code: str) -> Task:
    return tool_task(services.tasks.find(key_id, business_task_id), business_task_id, tool_code)


def tool_task(task: Task | None, business_task_id: str, tool_code: str) -> Task:
    """`task` if it is a task of tool `tool_code`; else "404"."""
    if task is None or task.kind != TOOL.name or task.tool_code != tool_code:
        raise ImgOpenError("404", f"no task with businessTaskId {business_task_id!r} for tool {tool_code}")
    return task


async def answer_now(services: ApiServices, task: Task, created: bool, key_id: str, code: str) -> dict[str, Any]:
    """A synchronous tool's answer: the task run in this request (or, if a worker took it first,
    waited for), then its query view. `created`: this request's submit made the task."""
    await run_in_threadpool(services.submitter.run_here, task, created)

    def find() -> Task:
        return find_task(services, key_id, task.business_task_id, code)

    done = await settled(services, find, 60, task.id)
    if done.state == TaskState.FAILED.value:
        # A synchronous answer is the outcome itself: a refused request reads as its code.
        raise ImgOpenError(done.error_code or "500", done.error_msg or "the task failed")
    view = services.views.tool(done)
    return {**view, "toolTask": code}


def build_tool_router(tools: ToolLookup[AnySpec], prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["tools"], route_class=LeanRoute)
    for tool in tools:
        _add_tool_routes(router, tool)

    @router.post("/tool/{tool_code:path}/queryTask", include_in_schema=False)
    async def unknown_tool_query(tool_code: str, body: TaskRef, key: KeyDep) -> Response:
        raise ImgOpenError("404", f"no task with businessTaskId {body.businessTaskId!r} for tool {tool_code}")

    @router.post("/tool/{tool_code:path}/cancelTask", include_in_schema=False)
    async def unknown_tool_cancel(tool_code: str, body: TaskRef, key: KeyDep) -> Response:
        raise ImgOpenError("404", f"no task with businessTaskId {body.businessTaskId!r} for tool {tool_code}")

    return router


def tool_submission(services: ApiServices, key_id: str, tool: AnySpec, body: Any) -> Submission:
    """The submission of a tool task; `body` is the tool's request model (params + SubmitFields)."""
    checks = services.checks

    def precheck(sizes: Any) -> None:
        tool.precheck(body, sizes, checks)

    return Submission(
        key_id=key_id,
        kind=TOOL.name,
        tool_code=tool.code,
        pool=tool.pool,
        business_task_id=body.businessTaskId,
        request=body,
        envelope_fields=SUBMIT_ENVELOPE_FIELDS,
        callback_url=body.callbackUrl,
        precheck=precheck,
        images=tool.images(body),
        run_by_caller=tool.synchronous,
    )


async def run_tool(services: ApiServices, key_id: str, code: str, fields: dict[str, Any], wait: float) -> Task:
    """Submit a task of tool `code` for `key_id` (as its own endpoint would) and wait for its end:
    the other faces of the server (A1111's extras, interrogate...) run the same tools this way."""
    tool = services.tools.get(code)
    if tool is None:
        raise ImgOpenError("404", f"this server has no tool {code!r}")
    try:
        body = tool_request_model(tool).model_validate({**fields, "businessTaskId": f"{code}-{uuid.uuid4().hex}"})
    except ValidationError as exc:
        raise ImgOpenError("400", describe_validation(list(exc.errors()))) from exc
    task, created = await run_in_threadpool(services.submitter.submit, tool_submission(services, key_id, tool, body))
    if tool.synchronous:
        await run_in_threadpool(services.submitter.run_here, task, created)

    def find() -> Task:
        return find_task(services, key_id, task.business_task_id, code)

    deadline = time.monotonic() + wait
    while True:
        ended = await settled(services, find, min(60.0, deadline - time.monotonic()), task.id)
        if TaskState(ended.state).is_final:
            return ended
        if time.monotonic() >= deadline:
            raise ImgOpenError("500", f"task {task.business_task_id} of {code} did not end within {wait:g} s")


@cache
def tool_request_model(tool: AnySpec) -> Any:
    """The submit body of a tool: its params plus businessTaskId and callbackUrl."""
    return create_model(
        f"{_model_name(tool.code)}Request",
        __base__=(tool.params_model, SubmitFields),
        __doc__=tool.description or tool.summary,
    )


def _add_tool_routes(router: APIRouter, tool: AnySpec) -> None:
    name = _model_name(tool.code)
    request_model: Any = tool_request_model(tool)
    view_model = create_model(
        f"{name}TaskView", __base__=(ToolTaskFields, optional_copy(tool.result_model, f"{name}ResultFields"))
    )
    code = tool.code
    # A synchronous tool answers the submit with the task's outcome, not with its ids.
    submit_answer: Any = (
        create_model(
            f"{name}Answer",
            __base__=view_model,
            toolTask=(str, Field(description="The tool that answered (a synchronous tool).")),
        )
        if tool.synchronous
        else Submitted
    )

    async def submit(body: request_model, key: KeyDep, services: ServicesDep) -> Response:
        submission = tool_submission(services, key.id, tool, body)
        if services.submitter.is_quick(submission):
            task, created = services.submitter.submit(submission)
        else:
            task, created = await run_in_threadpool(services.submitter.submit, submission)
        if tool.synchronous:
            return ok(await answer_now(services, task, created, key.id, code))
        return ok({"task_id": task.id, "taskId": task.id, "businessTaskId": task.business_task_id})

    async def query(body: TaskQuery, key: KeyDep, services: ServicesDep) -> Response:
        def find() -> Task:
            return find_task(services, key.id, body.businessTaskId, code)

        here = services.tasks.running_here(key.id, body.businessTaskId)
        running = tool_task(here, body.businessTaskId, code) if here is not None else None
        task = await settled(services, find, body.waitSeconds, running=running)
        return ok(services.views.tool(task))

    async def cancel(body: TaskRef, key: KeyDep, services: ServicesDep) -> Response:
        def do() -> dict[str, Any]:
            return cancel_task(services, find_task(services, key.id, body.businessTaskId, code))

        return ok(await run_in_threadpool(do))

    router.add_api_route(
        f"/tool/{code}",
        submit,
        methods=["POST"],
        summary=f"{tool.summary}: submit" + (" (answered at once)" if tool.synchronous else ""),
        description=tool.description,
        responses=documented(submit_answer),
        operation_id=f"submit_{name}",
    )
    router.add_api_route(
        f"/tool/{code}/queryTask",
        query,
        methods=["POST"],
        summary=f"{tool.summary}: query a task",
        responses=documented(view_model),
        operation_id=f"query_{name}",
    )
    router.add_api_route(
        f"/tool/{code}/cancelTask",
        cancel,
        methods=["POST"],
        summary=f"{tool.summary}: cancel a task",
        responses=documented(CancelAnswer),
        operation_id=f"cancel_{name}",
    )
