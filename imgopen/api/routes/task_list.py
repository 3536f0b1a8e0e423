"""`POST /tasks/list` (API.md 7, [beyond]): the caller's own tasks, newest first, paged and filtered.

Each row is the task's query answer in short, rendered by the same views as the queries (so a row
never says something its query would not), plus the request as the server kept it: enough for a
history page to show the pictures and offer "use these settings again"."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from imgopen.api.deps import KeyDep, ServicesDep
from imgopen.api.envelope import documented, ok
from imgopen.api.lean_route import LeanRoute
from imgopen.api.routes.models import Paged
from imgopen.api.schemas import TaskProgressFields
from imgopen.db.tables import Task
from imgopen.roles.api import ApiServices
from imgopen.tasks.kinds import SD, TRAINING

# Strings this long in a kept request are inline images (small ones stay in the params; see
# media/inputs.py INLINE_LIMIT): a listing leaves them out instead of repeating them on every page.
LONG_STRING = 4096


class TaskListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pageSize: int = Field(ge=1, le=100, description="Rows per page, 1 to 100.")
    pageNum: int = Field(ge=1, le=1_000_000, description="Page number, from 1.")
    kind: Literal["tool", "sd", "training"] | None = Field(
        None, description="Filter: tool (tool/{toolCode}), sd (sd/v2/...) or training (modelTraining/...)."
    )
    state: Literal["queued", "running", "success", "failed", "cancelled"] | None = Field(
        None, description="Filter: the task's state."
    )


class TaskRow(TaskProgressFields):
    businessTaskId: str = Field(
        description="Your id of the task: businessTaskId (tools, sd/v2 queries) or taskId (training)."
    )
    taskId: str = Field(description="The server's id of the task.")
    kind: str = Field(description="tool, sd or training: which query endpoint answers for it.")
    toolCode: str = Field(
        description="The tool (tool/{toolCode}); for sd the mode (text2image, image2image, controlnet); "
        'for training "lora".'
    )
    status: int = Field(
        description="The integer status its query answers: sd 1 queued, 3 running, 2 success, 4 failed, "
        "5 cancelled; tools and training 0 processing, 1 success, 2 failed, 3 cancelled."
    )
    imageUrls: list[str] = Field(description="Every output image (empty until success, or once files expired).")
    seeds: list[int] | None = Field(description="sd: the seed of each image; null for other kinds.")
    loraUrl: str | None = Field(description="training: download URL of the trained LoRA; null otherwise.")
    sdLoraFileSimplifyName: str | None = Field(description="training: NAME for <lora:NAME:W>; null otherwise.")
    params: dict[str, Any] | None = Field(
        description="The request as the server kept it (the fields of its submit, without businessTaskId and "
        "callbackUrl); image inputs kept in storage read `stored:...`, inline ones are left out (null)."
    )


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return None if len(value) > LONG_STRING or value.startswith("data:") else value
    if isinstance(value, dict):
        return {key: _short(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_short(item) for item in value]
    return value


_COMMON = (
    "state",
    "progress",
    "queuePosition",
    "errorMsg",
    "errorCode",
    "attempts",
    "createdAt",
    "startedAt",
    "finishedAt",
    "filesExpired",
)


def task_row(services: ApiServices, task: Task) -> dict[str, Any]:
    """The row of one task, cut from its query answer (services.views)."""
    views = services.views
    row: dict[str, Any] = {
        "taskId": task.id,
        "kind": task.kind,
        "toolCode": task.tool_code,
        "businessTaskId": task.business_task_id,
        "imageUrls": [],
        "seeds": None,
        "loraUrl": None,
        "sdLoraFileSimplifyName": None,
        "params": _short(task.params) if isinstance(task.params, dict) else None,
    }
    if task.kind == SD.name:
        view = views.sd_v2(task)
        images = view["differentialImageRspList"]
        row["imageUrls"] = [image["image_url"] for image in images]
        row["seeds"] = [image["seed"] for image in images]
    elif task.kind == TRAINING.name:
        view = views.training(task)
        row["loraUrl"] = view.get("loraUrl")
        row["sdLoraFileSimplifyName"] = view.get("sdLoraFileSimplifyName")
    else:  # a tool
        view = views.tool(task)
        urls = view.get("outputImageUrls") or ([view["outputImageUrl"]] if view.get("outputImageUrl") else [])
        row["imageUrls"] = [url for url in urls if isinstance(url, str)]
    row["status"] = view.get("status", 0)
    row.update({field: view.get(field) for field in _COMMON})
    return row


def list_tasks(services: ApiServices, key_id: str, query: TaskListQuery) -> dict[str, Any]:
    store = services.tasks
    offset = (query.pageNum - 1) * query.pageSize
    tasks = store.list_for_key(key_id, query.kind, query.state, query.pageSize, offset)
    return {
        "rows": [task_row(services, task) for task in tasks],
        "total": store.count_for_key(key_id, query.kind, query.state),
        "pageSize": query.pageSize,
        "pageNum": query.pageNum,
    }


def build_task_list_router(prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["tasks"], route_class=LeanRoute)

    @router.post(
        "/tasks/list",
        summary="Your tasks, newest first",
        description=(
            "The caller's own tasks of every kind (tools, SD generations, trainings), newest first, paged; "
            "filter by kind and state. Each row is the task's query answer in short; query the task "
            "(by kind: tool/{toolCode}/queryTask, sd/v2/queryTaskInfo, modelTraining/queryTraining/Job) "
            "for everything else. [beyond]"
        ),
        responses=documented(Paged[TaskRow]),
        operation_id="tasks_list",
    )
    async def list_endpoint(body: TaskListQuery, key: KeyDep, services: ServicesDep) -> Response:
        return ok(await run_in_threadpool(list_tasks, services, key.id, body))

    return router
