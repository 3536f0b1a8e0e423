"""LoRA training: submit, query and cancel (API.md 5)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from imgopen.api.deps import KeyDep, ServicesDep
from imgopen.api.envelope import documented, ok
from imgopen.api.lean_route import LeanRoute
from imgopen.api.schemas import CancelAnswer, TaskProgressFields
from imgopen.api.task_queries import cancel_task, settled
from imgopen.db.tables import Task
from imgopen.errors import ImgOpenError
from imgopen.roles.api import ApiServices
from imgopen.tasks.kinds import TRAINING
from imgopen.tasks.submit import Submission
from imgopen.training.base_model import resolve_base
from imgopen.training.optimizer_choices import check_available
from imgopen.training.params import TrainingParams


class TrainingRef(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    taskId: str = Field(min_length=1, max_length=128, description="The taskId given at submit.")
    waitSeconds: float = Field(0, ge=0, le=60, description="Long polling: wait up to this long for the end.")


class TrainingSubmitted(BaseModel):
    taskId: str = Field(description="Your taskId.")
    task_id: str = Field(description="The server's id of the task.")


class TrainingView(TaskProgressFields):
    taskId: str = Field(description="Your taskId.")
    status: int = Field(description="0 processing, 1 success, 2 failed, 3 cancelled.")
    epoch: int | None = Field(description="Current (or last) epoch.")
    step: int | None = Field(description="Steps done.")
    totalSteps: int | None = Field(description="Steps planned.")
    loss: float | None = Field(description="Loss of the last step.")
    loraFileName: str | None = Field(description="The LoRA file, once trained.")
    loraUrl: str | None = Field(description="Download URL of the LoRA.")
    sdLoraFileSimplifyName: str | None = Field(description="NAME for <lora:NAME:W>.")
    epochLosses: list[float] | None = Field(None, description="Mean loss of each epoch.")
    epochLearningRates: list[float] | None = Field(None, description="UNet learning rate at the end of each epoch.")
    optimizerSteps: int | None = Field(None, description="Optimizer updates (steps / gradientAccumulationSteps).")
    warnings: list[str] | None = Field(None, description="Images skipped and other things worked around.")


def find_training(services: ApiServices, key_id: str, task_id: str) -> Task:
    task = services.tasks.find(key_id, task_id)
    if task is None or task.kind != TRAINING.name:
        raise ImgOpenError("404", f"no training task {task_id!r}")
    return task


def submit_training(services: ApiServices, key_id: str, body: TrainingParams) -> Task:
    """Checked before queueing: the base model, the optimizer, the output name."""
    resolve_base(services.catalog, body, services.settings.default_checkpoint)
    check_available(body.optimizerType, services.checks.on_cuda)
    existing_task = services.tasks.find(key_id, body.taskId)
    if existing_task is None and services.catalog.find("lora", body.lora_name) is not None:
        raise ImgOpenError("400", f"outputName: a LoRA named {body.lora_name!r} exists already; choose another name")
    submission = Submission(
        key_id=key_id,
        kind=TRAINING.name,
        tool_code="lora",
        pool=TRAINING.pool,
        images=0,
        business_task_id=body.taskId,
        request=body,
        envelope_fields={"callbackUrl"},
        callback_url=body.callbackUrl,
    )
    task, _created = services.submitter.submit(submission)
    return task


def build_training_router(prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix + "/modelTraining", tags=["training"], route_class=LeanRoute)

    @router.post("/submitTraining/Job", summary="Train a LoRA", responses=documented(TrainingSubmitted))
    async def submit(body: TrainingParams, key: KeyDep, services: ServicesDep) -> Response:
        task = await run_in_threadpool(submit_training, services, key.id, body)
        return ok({"taskId": task.business_task_id, "task_id": task.id})

    @router.post("/queryTraining/Job", summary="Query a training", responses=documented(TrainingView))
    async def query(body: TrainingRef, key: KeyDep, services: ServicesDep) -> Response:
        task = await settled(services, lambda: find_training(services, key.id, body.taskId), body.waitSeconds)
        return ok(services.views.training(task))

    @router.post("/cancelTraining/Job", summary="Cancel a training", responses=documented(CancelAnswer))
    async def cancel(body: TrainingRef, key: KeyDep, services: ServicesDep) -> Response:
        def do() -> dict[str, Any]:
            return cancel_task(services, find_training(services, key.id, body.taskId))

        return ok(await run_in_threadpool(do))

    return router
