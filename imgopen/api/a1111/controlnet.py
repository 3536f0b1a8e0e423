"""The ControlNet extension's routes (/controlnet/*): its version, models, preprocessors, and
`detect` (a preprocessor's map), run by the cnt/preview tool."""

from __future__ import annotations

from typing import Any

import pybase64
from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from imgopen.api.a1111.auth import A1111Key
from imgopen.api.a1111.schemas import ERRORS, DetectAnswer, DetectRequest
from imgopen.api.a1111.tools import first_output, run
from imgopen.api.deps import ServicesDep
from imgopen.api.lean_route import LeanRoute
from imgopen.vision.control.names import ALIASES, NAMES

router = APIRouter(prefix="/controlnet", tags=["automatic1111"], route_class=LeanRoute)


@router.get("/version", responses=ERRORS, summary="The ControlNet extension's API version")
async def version(key: A1111Key) -> dict[str, int]:
    return {"version": 2}


@router.get("/model_list", responses=ERRORS, summary="ControlNet models")
async def model_list(key: A1111Key, services: ServicesDep) -> dict[str, list[str]]:
    entries = await run_in_threadpool(services.catalog.entries, "controlnet")
    return {"model_list": [entry.title for entry in entries]}


@router.get("/module_list", responses=ERRORS, summary="Preprocessors")
async def module_list(
    key: A1111Key, alias_names: bool = Query(False, description="Also list the extension's longer names.")
) -> dict[str, Any]:
    names = [*NAMES, *ALIASES] if alias_names else list(NAMES)
    return {"module_list": names, "module_detail": {name: {"model_free": False, "sliders": []} for name in names}}


@router.post("/detect", response_model=DetectAnswer, responses=ERRORS, summary="Run a preprocessor")
async def detect(body: DetectRequest, key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    images = body.controlnet_input_images or body.controlnet_images
    if not images:
        raise HTTPException(422, "controlnet_input_images: give at least one image")
    maps, poses = [], []
    for image in images:
        task = await run(
            services,
            key.id,
            "cnt/preview",
            {
                "sourceImage": image,
                "preprocessor": body.controlnet_module,
                "processorRes": body.controlnet_processor_res,
                "thresholdA": body.controlnet_threshold_a,
                "thresholdB": body.controlnet_threshold_b,
            },
        )
        data = await run_in_threadpool(services.inputs.read_bytes, first_output(task), "map", key.id)
        maps.append(pybase64.b64encode_as_string(data))
        poses.append((task.result or {}).get("poseKeypoints"))
    return {"images": maps, "info": "Success", "poses": poses if any(p is not None for p in poses) else None}
