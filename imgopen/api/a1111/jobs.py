"""/sdapi/v1: txt2img, img2img, progress, interrupt, skip, options. Each caller sees and steers its
own jobs only (its access key's)."""

from __future__ import annotations

from typing import Any

import pybase64
from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from imgopen.api.a1111.auth import A1111Key
from imgopen.api.a1111.generation import generate
from imgopen.api.a1111.options import HONOURED, OptionsStore
from imgopen.api.a1111.schemas import ERRORS, GenerationAnswer, Img2ImgRequest, ProgressAnswer, Txt2ImgRequest
from imgopen.api.deps import ServicesDep
from imgopen.api.lean_route import LeanRoute
from imgopen.api.task_queries import cancel_task
from imgopen.engine.resolve import default_checkpoint
from imgopen.errors import ImgOpenError
from imgopen.roles.api import ApiServices
from imgopen.tasks.kinds import SD
from imgopen.tasks.states import TaskState

router = APIRouter(prefix="/sdapi/v1", tags=["automatic1111"], route_class=LeanRoute)


@router.post("/txt2img", response_model=GenerationAnswer, responses=ERRORS, summary="Text to image (A1111)")
async def txt2img(body: Txt2ImgRequest, key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    return await generate(services, key.id, body)


@router.post("/img2img", response_model=GenerationAnswer, responses=ERRORS, summary="Image to image (A1111)")
async def img2img(body: Img2ImgRequest, key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    return await generate(services, key.id, body)


@router.get("/progress", response_model=ProgressAnswer, responses=ERRORS, summary="This key's current job")
async def progress(
    key: A1111Key,
    services: ServicesDep,
    skip_current_image: bool = Query(False, description="Leave current_image out."),
) -> dict[str, Any]:
    return await run_in_threadpool(progress_of, services, key.id, skip_current_image)


def progress_of(services: ApiServices, key_id: str, skip_current_image: bool) -> dict[str, Any]:
    jobs = services.tasks.active(key_id, SD.name)
    current = jobs[0] if jobs else None
    info = (current.progress_info or {}) if current else {}
    image = None
    preview = info.get("previewKey")
    if current is not None and preview and not skip_current_image:
        try:
            image = pybase64.b64encode_as_string(services.storage.get(str(preview)))
        except ImgOpenError:  # replaced meanwhile: the next poll has the new one
            image = None
    running = current is not None and current.state == TaskState.RUNNING.value
    return {
        "progress": round(current.progress, 4) if running and current else 0.0,
        "eta_relative": float(info.get("etaSeconds") or 0.0),
        "state": {
            "skipped": bool(current and current.skip_requested),
            "interrupted": bool(current and current.cancel_requested),
            "job": current.business_task_id if current else "",
            "job_count": len(jobs),
            "job_timestamp": _stamp(current.started_at or current.created_at) if current else "0",
            "job_no": 0,
            "sampling_step": int(info.get("step") or 0),
            "sampling_steps": int(info.get("totalSteps") or 0),
        },
        "current_image": image,
        "textinfo": None if current is None else ("running" if running else "queued"),
    }


def _stamp(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y%m%d%H%M%S")


@router.post("/interrupt", responses=ERRORS, summary="Stop this key's running job")
async def interrupt(key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    def do() -> dict[str, Any]:
        running = [t for t in services.tasks.active(key.id, SD.name) if t.state == TaskState.RUNNING.value]
        for task in running:
            cancel_task(services, task)
        return {"interrupted": [task.business_task_id for task in running]}

    return await run_in_threadpool(do)


@router.post("/skip", responses=ERRORS, summary="End the current image of this key's running job")
async def skip(key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    def do() -> dict[str, Any]:
        running = [t for t in services.tasks.active(key.id, SD.name) if t.state == TaskState.RUNNING.value]
        return {"skipped": [task.business_task_id for task in running if services.tasks.request_skip(task.id)]}

    return await run_in_threadpool(do)


@router.get("/options", responses=ERRORS, summary="This key's settings")
async def get_options(key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    return await run_in_threadpool(options_of, services, key.id)


def options_of(services: ApiServices, key_id: str) -> dict[str, Any]:
    stored = OptionsStore(services.db).get(key_id)
    named = stored.get("sd_model_checkpoint")
    entry = services.catalog.find("checkpoint", str(named)) if named else None
    if entry is None:
        try:
            entry = default_checkpoint(services.catalog, services.settings.default_checkpoint)
        except ImgOpenError:
            entry = None
    return {
        "sd_vae": "Automatic",
        "CLIP_stop_at_last_layers": 1,
        "samples_format": "png",
        **stored,
        "sd_model_checkpoint": entry.title if entry else named,
        "sd_checkpoint_hash": entry.sha256 if entry else None,
    }


@router.post("/options", responses=ERRORS, summary="Set this key's settings")
async def set_options(body: dict[str, Any], key: A1111Key, services: ServicesDep) -> dict[str, Any] | None:
    def do() -> dict[str, Any] | None:
        checks: dict[str, tuple[str, str]] = {"sd_model_checkpoint": ("checkpoint", "sd_model_checkpoint")}
        if str(body.get("sd_vae", "Automatic")).strip() not in ("Automatic", "None", ""):
            checks["sd_vae"] = ("vae", "sd_vae")
        for name, (kind, field) in checks.items():
            if name in body:
                try:
                    services.catalog.require(kind, str(body[name]), field)
                except ImgOpenError as exc:
                    raise HTTPException(404, exc.msg) from exc
        OptionsStore(services.db).update(key.id, body)
        ignored = sorted(name for name in body if name not in HONOURED)
        # A1111 answers null; the names kept but without effect here are said, not hidden.
        return {"ignored": ignored, "honoured": sorted(HONOURED)} if ignored else None

    return await run_in_threadpool(do)
