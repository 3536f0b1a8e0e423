"""The SD generation endpoints (API.md 3.1 to 3.3) and their task queries (API.md 4).

No `from __future__ import annotations`: FastAPI reads the route annotations, and the request
models of the three modes are bound in a loop."""

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from imgopen.api.deps import KeyDep, ServicesDep
from imgopen.api.envelope import documented, ok
from imgopen.api.lean_route import LeanRoute
from imgopen.api.schemas import CancelAnswer, TaskProgressFields, TaskQuery, TaskRef
from imgopen.api.task_queries import cancel_task, settled
from imgopen.db.tables import Task
from imgopen.engine.checks import check_generation
from imgopen.engine.params import PARAMS_BY_MODE, Text2ImageParams
from imgopen.errors import ImgOpenError
from imgopen.roles.api import ApiServices
from imgopen.tasks.kinds import SD
from imgopen.tasks.submit import Submission


class SdSubmitted(BaseModel):
    task_id: str = Field(description="id_task if given, else a server id: the businessTaskId for the queries.")


class SdImageRow(BaseModel):
    image_url: str = Field(description="URL of the image.")
    seed: int = Field(description="This image's seed.")
    image_status: int = Field(description="1: the image is ready.")
    img_audit_status: bool = Field(description="Content audit passed (no audit runs here: always true).")
    img_audit: list[dict[str, Any]] = Field(description="Audit labels (nonLabel).")


class TemporaryImage(BaseModel):
    progress: float = Field(description="0..1.")
    step: int = Field(description="Denoising steps done, over all passes.")
    totalSteps: int | None = Field(description="Denoising steps planned.")
    etaSeconds: float | None = Field(description="Estimated seconds left.")
    currentImageUrl: str | None = Field(description="A preview decoded cheaply from the current latents.")


class SdTaskFields(TaskProgressFields):
    status: int = Field(description="1 queued, 3 running, 2 success, 4 failed, 5 cancelled.")
    desc: str = Field(description="The state, or the error message.")
    differentialImageRspList: list[SdImageRow] = Field(description="The images (empty until success).")
    info: dict[str, Any] | None = Field(description="Parameters used: checkpoint, LoRAs, seeds, infotext.")
    warnings: list[str] | None = Field(None, description="Things noticed and worked around.")


class SdTaskV1(SdTaskFields):
    task_id: str = Field(description="The task's businessTaskId.")


class SdTaskV2(SdTaskFields):
    id_task: str = Field(description="The task's businessTaskId.")
    temporaryImageDto: TemporaryImage | None = Field(description="Live progress and preview while running.")


def find_sd_task(services: ApiServices, key_id: str, business_task_id: str) -> Task:
    task = services.tasks.find(key_id, business_task_id)
    if task is None or task.kind != SD.name:
        raise ImgOpenError("404", f"no generation task with businessTaskId {business_task_id!r}")
    return task


def submit_generation(services: ApiServices, key_id: str, mode: str, body: Text2ImageParams) -> Task:
    """Names checked against the catalog first ("404" / "400" / "503" at once), then queued for a
    worker, preferably one that has the checkpoint loaded."""
    resolved = check_generation(body, services.catalog, services.checks.upscalers, services.settings.default_checkpoint)
    server_id = services.tasks.new_id()
    business_id = body.id_task or server_id
    submission = Submission(
        key_id=key_id,
        kind=SD.name,
        tool_code=mode,
        pool=SD.pool,
        business_task_id=business_id,
        request=body,
        envelope_fields={"callbackUrl"},
        callback_url=body.callbackUrl,
        task_id=server_id,
        affinity=resolved.checkpoint.name,
        images=body.image_count,
    )
    task, _created = services.submitter.submit(submission)
    return task


def build_sd_router(prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["sd"], route_class=LeanRoute)
    for mode, model in PARAMS_BY_MODE.items():
        _add_submit(router, mode, model)

    @router.post("/sd/queryTaskInfo", summary="Query a generation task (v1)", responses=documented(SdTaskV1))
    async def query_v1(body: TaskQuery, key: KeyDep, services: ServicesDep) -> Response:
        task = await settled(services, lambda: find_sd_task(services, key.id, body.businessTaskId), body.waitSeconds)
        return ok(services.views.sd_v1(task))

    @router.post(
        "/sd/v2/queryTaskInfo",
        summary="Query a generation task (v2, with live preview)",
        responses=documented(SdTaskV2),
    )
    async def query_v2(body: TaskQuery, key: KeyDep, services: ServicesDep) -> Response:
        task = await settled(services, lambda: find_sd_task(services, key.id, body.businessTaskId), body.waitSeconds)
        return ok(services.views.sd_v2(task))

    @router.post("/sd/v2/cancelTask", summary="Cancel a generation task", responses=documented(CancelAnswer))
    async def cancel(body: TaskRef, key: KeyDep, services: ServicesDep) -> Response:
        def do() -> dict[str, Any]:
            return cancel_task(services, find_sd_task(services, key.id, body.businessTaskId))

        return ok(await run_in_threadpool(do))

    return router


def _add_submit(router: APIRouter, mode: str, model: type[Text2ImageParams]) -> None:
    async def submit(body: model, key: KeyDep, services: ServicesDep) -> Response:  # type: ignore[valid-type]
        task = await run_in_threadpool(submit_generation, services, key.id, mode, body)
        return ok({"task_id": task.business_task_id})

    router.add_api_route(
        f"/sd/v2/{mode}",
        submit,
        methods=["POST"],
        summary={
            "text2image": "Text to image",
            "image2image": "Image to image (and inpainting)",
            "controlnet": "ControlNet",
        }[mode],
        description=model.__doc__ or "",
        responses=documented(SdSubmitted),
        operation_id=f"sd_{mode}",
    )
