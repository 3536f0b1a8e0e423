"""txt2img and img2img: an A1111 request becomes the same task an `sd/v2/...` request makes (one
generation path, queued fairly with everything else, a row that survives), waited for, and answered
as A1111 answers: bare base64 images, the parameters, and `info` as a JSON string."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from typing import Any

import pybase64
from fastapi import HTTPException
from pydantic import ValidationError

from imgopen import __version__
from imgopen.api.a1111.options import HONOURED, OptionsStore
from imgopen.api.a1111.schemas import GenerationRequest, Img2ImgRequest, Txt2ImgRequest
from imgopen.api.errors import A1111_STATUS as STATUS
from imgopen.api.errors import describe_validation
from imgopen.api.routes.sd import find_sd_task, submit_generation
from imgopen.api.task_queries import settled
from imgopen.db.tables import Task
from imgopen.engine.params import PARAMS_BY_MODE, Text2ImageParams
from imgopen.engine.prompt_syntax import extract_networks
from imgopen.engine.results import SdResult
from imgopen.engine.samplers import SAMPLERS
from imgopen.errors import ImgOpenError
from imgopen.media.parameters import read_parameters
from imgopen.roles.api import ApiServices
from imgopen.tasks.states import TaskState

SCHEDULERS = {"automatic": "", "karras": " Karras"}
# Sampler tuning values clients send as "unchanged" (A1111's defaults, webuiapi's defaults).
_NEUTRAL = {
    "eta": (1.0, 0.0),
    "s_churn": (0.0,),
    "s_tmax": (0.0,),
    "s_tmin": (0.0,),
    "s_noise": (1.0,),
    "s_min_uncond": (0.0,),
}
_FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp"}


def refused(status: int, detail: str) -> HTTPException:
    return HTTPException(status, detail)


def from_imgopen(exc: ImgOpenError) -> HTTPException:
    return HTTPException(STATUS.get(exc.code, 500), exc.msg)


def _unsupported(request: GenerationRequest) -> list[str]:
    """Fields set to something this server does not do: refused rather than silently dropped."""
    problems = []
    if request.styles:
        problems.append("styles: no saved prompt styles exist here; put the text into the prompt")
    if request.subseed_strength:
        problems.append("subseed_strength: variation seeds are not supported (0)")
    if request.seed_resize_from_h > 0 or request.seed_resize_from_w > 0:
        problems.append("seed_resize_from_h/w: not supported (-1)")
    if request.tiling:
        problems.append("tiling: seamless tiling is not supported")
    if request.refiner_checkpoint:
        problems.append("refiner_checkpoint: a refiner is not supported")
    if request.script_name:
        problems.append(f"script_name: scripts are not supported ({request.script_name!r}); alwayson_scripts are")
    if isinstance(request, Txt2ImgRequest):
        if request.hr_checkpoint_name or request.hr_sampler_name or request.hr_scheduler:
            problems.append("hr_checkpoint_name/hr_sampler_name/hr_scheduler: the hires pass uses the main ones (null)")
        if request.hr_prompt or request.hr_negative_prompt:
            problems.append("hr_prompt/hr_negative_prompt: the hires pass uses the main prompts (empty)")
        if request.firstphase_width or request.firstphase_height:
            problems.append("firstphase_width/height: the old hires fields are not supported (0)")
    return problems


def _sampler(request: GenerationRequest) -> str | None:
    name = request.sampler_name or request.sampler_index
    scheduler = (request.scheduler or "automatic").strip().lower()
    if scheduler not in SCHEDULERS:
        raise refused(422, f"scheduler: {request.scheduler!r} is not supported; valid: automatic, karras")
    if name is None or not SCHEDULERS[scheduler] or name.lower().endswith("karras"):
        return name
    with_schedule = f"{name}{SCHEDULERS[scheduler]}"
    if with_schedule.lower() not in {known.lower() for known in SAMPLERS}:
        raise refused(422, f"scheduler: {name!r} has no Karras variant here; use scheduler automatic")
    return with_schedule


def _scripts(scripts: dict[str, Any], body: dict[str, Any], warnings: list[str]) -> bool:
    """ControlNet units and ADetailer into the body; True when a ControlNet unit is enabled."""
    controlnet = False
    for name, value in scripts.items():
        args = value.get("args", []) if isinstance(value, dict) else value
        key = name.lower()
        if key == "controlnet":
            units = [_unit(unit) for unit in args or [] if isinstance(unit, dict)]
            units = [unit for unit in units if unit.get("enabled", True)]
            if units:
                body["controlnet"] = {"args": units}
                controlnet = True
        elif key == "adetailer":
            passes = [item for item in args or [] if isinstance(item, dict)]
            enabled = not (args and args[0] is False)
            if passes and enabled:
                body["ADetailer"] = {"args": passes}
        elif args and not (isinstance(args, list) and args[0] is False):
            raise refused(422, f"alwayson_scripts.{name}: not supported here (ControlNet and ADetailer are)")
        else:
            warnings.append(f"alwayson_scripts.{name}: disabled, ignored")
    return controlnet


def _unit(unit: dict[str, Any]) -> dict[str, Any]:
    """A ControlNet unit as the extension's clients send it: "" for no image, or {"image", "mask"}."""
    unit = dict(unit)
    image = unit.get("image", unit.get("input_image"))
    if isinstance(image, dict):
        unit["mask"] = unit.get("mask") or image.get("mask")
        image = image.get("image")
    unit.pop("image", None)
    unit["input_image"] = image or None
    if not unit.get("mask"):
        unit["mask"] = None
    return unit


def build_params(
    request: GenerationRequest, options: dict[str, Any], warnings: list[str]
) -> tuple[str, Text2ImageParams]:
    """(mode, validated params) of the `sd/v2/...` request this A1111 request means."""
    problems = _unsupported(request)
    if problems:
        raise refused(422, "; ".join(problems))
    for name, neutral in _NEUTRAL.items():
        value = getattr(request, name)
        if value is not None and float(value) not in neutral:
            warnings.append(f"{name}={value}: sampler tuning is not used here; the sampler's defaults ran")
    overrides = dict(request.override_settings or {})
    prompt, negative = request.prompt, request.negative_prompt
    if request.disable_extra_networks:
        prompt, negative = extract_networks(prompt)[0], extract_networks(negative)[0]
    # The key's stored options that change something, then this request's overrides (whose
    # unsupported keys the engine reports as ignored).
    kept = {name: value for name, value in options.items() if name in HONOURED and name != "samples_format"}
    settings = {**kept, **overrides}
    body: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative,
        "batch_size": request.batch_size,
        "n_iter": request.n_iter,
        "steps": request.steps,
        "seed": request.seed,
        "cfg_scale": request.cfg_scale,
        "sampler_name": _sampler(request),
        "width": request.width,
        "height": request.height,
        "restore_faces": bool(request.restore_faces),
        "override_settings": settings,
        "id_task": request.force_task_id,
        "output_image_format": _FORMATS.get(str(overrides.get("samples_format", options.get("samples_format", "png")))),
    }
    if body["output_image_format"] is None:
        raise refused(422, "samples_format: png, jpg or webp")
    if request.distilled_cfg_scale is not None:
        body["distilled_cfg_scale"] = request.distilled_cfg_scale
    if isinstance(request, Txt2ImgRequest):
        body |= {
            "enable_hr": request.enable_hr,
            "hr_scale": request.hr_scale,
            "hr_upscaler": request.hr_upscaler or "Latent",
            "hr_second_pass_steps": request.hr_second_pass_steps,
            "hr_resize_x": request.hr_resize_x,
            "hr_resize_y": request.hr_resize_y,
            "denoising_strength": 0.7 if request.denoising_strength is None else request.denoising_strength,
        }
        mode = "text2image"
    else:
        assert isinstance(request, Img2ImgRequest)
        body |= {
            "image_link": request.init_images[0],
            "mask_link": request.mask,
            "denoising_strength": 0.75 if request.denoising_strength is None else request.denoising_strength,
            "resize_mode": request.resize_mode,
            "image_cfg_scale": request.image_cfg_scale,
            "mask_blur_x": request.mask_blur if request.mask_blur is not None else request.mask_blur_x,
            "mask_blur_y": request.mask_blur if request.mask_blur is not None else request.mask_blur_y,
            "inpainting_fill": request.inpainting_fill,
            "inpaint_full_res": request.inpaint_full_res,
            "inpaint_full_res_padding": request.inpaint_full_res_padding,
            "inpainting_mask_invert": request.inpainting_mask_invert,
            "initial_noise_multiplier": 1.0
            if request.initial_noise_multiplier is None
            else request.initial_noise_multiplier,
        }
        mode = "image2image"
    if _scripts(request.alwayson_scripts, body, warnings):
        mode = "controlnet"
    try:
        return mode, PARAMS_BY_MODE[mode].model_validate(body)
    except ValidationError as exc:
        raise refused(422, describe_validation(list(exc.errors()))) from exc
    except ImgOpenError as exc:
        raise from_imgopen(exc) from exc


async def generate(services: ApiServices, key_id: str, request: Txt2ImgRequest | Img2ImgRequest) -> dict[str, Any]:
    """Run the request as a task and answer as A1111 does."""
    from fastapi.concurrency import run_in_threadpool

    store = OptionsStore(services.db)
    options = await run_in_threadpool(store.get, key_id)
    warnings: list[str] = []
    mode, params = build_params(request, options, warnings)
    try:
        task = await run_in_threadpool(submit_generation, services, key_id, mode, params)
    except ImgOpenError as exc:
        raise from_imgopen(exc) from exc
    if not request.override_settings_restore_afterwards and request.override_settings:
        await run_in_threadpool(store.update, key_id, dict(request.override_settings))
    deadline = time.monotonic() + services.settings.a1111_wait_seconds

    def find() -> Task:
        return find_sd_task(services, key_id, task.business_task_id)

    while True:
        task = await settled(services, find, min(60.0, max(0.0, deadline - time.monotonic())))
        if TaskState(task.state).is_final:
            break
        if time.monotonic() >= deadline:
            raise refused(504, f"task {task.business_task_id} did not end in time; it goes on (see progress)")
    if task.state == TaskState.FAILED.value:
        raise HTTPException(STATUS.get(task.error_code or "", 500), task.error_msg or "the generation failed")
    return await run_in_threadpool(answer, services, key_id, request, params, task, warnings)


def answer(
    services: ApiServices,
    key_id: str,
    request: Txt2ImgRequest | Img2ImgRequest,
    params: Text2ImageParams,
    task: Task,
    warnings: list[str],
) -> dict[str, Any]:
    result = SdResult.model_validate(task.result) if task.result else None
    images: list[str] = []
    infotexts: list[str] = []
    seeds: list[int] = []
    for image in result.images if result else []:
        data = services.storage.get(image.image)
        seeds.append(image.seed)
        infotexts.append(_parameters_of(data) or (result.info.get("infotext", "") if result else ""))
        if request.send_images:
            images.append(pybase64.b64encode_as_string(data))
    if isinstance(request, Img2ImgRequest) and request.include_init_images and request.send_images:
        init = services.inputs.read_bytes(str(task.params["image_link"]), "init_images[0]", key_id)
        images.insert(0, pybase64.b64encode_as_string(init))
    info = result.info if result else {}
    all_warnings = warnings + list((task.result or {}).get("warnings", []))
    first_seed = seeds[0] if seeds else params.seed
    payload: dict[str, Any] = {
        "prompt": request.prompt,
        "all_prompts": [request.prompt] * len(seeds),
        "negative_prompt": request.negative_prompt,
        "all_negative_prompts": [request.negative_prompt] * len(seeds),
        "seed": first_seed,
        "all_seeds": seeds,
        "subseed": first_seed,
        "all_subseeds": seeds,
        "subseed_strength": 0,
        "width": params.width,
        "height": params.height,
        "sampler_name": info.get("sampler") or params.sampler_name,
        "cfg_scale": params.cfg_scale,
        "steps": params.steps,
        "batch_size": params.batch_size,
        "restore_faces": params.restore_faces,
        "face_restoration_model": "CodeFormer" if params.restore_faces else None,
        "sd_model_name": info.get("checkpoint"),
        "sd_model_hash": None,
        "sd_vae_name": info.get("vae"),
        "sd_vae_hash": None,
        "seed_resize_from_w": -1,
        "seed_resize_from_h": -1,
        "denoising_strength": getattr(params, "denoising_strength", None),
        "extra_generation_params": {},
        "index_of_first_image": 1 if isinstance(request, Img2ImgRequest) and request.include_init_images else 0,
        "infotexts": infotexts,
        "styles": [],
        "job_timestamp": _timestamp(task.started_at or task.created_at),
        "clip_skip": params.clip_skip,
        "is_using_inpainting_conditioning": False,
        "version": f"imgopen {__version__}",
        "task_id": task.business_task_id,
        "interrupted": task.state == TaskState.CANCELLED.value,
        "skipped": info.get("skipped", []),
        "warnings": all_warnings,
    }
    parameters = request.model_dump(mode="json")
    if isinstance(request, Img2ImgRequest):
        parameters["init_images"] = None  # A1111 does not echo the images back
        parameters["mask"] = None
    return {"images": images, "parameters": parameters, "info": json.dumps(payload, ensure_ascii=False)}


def _parameters_of(data: bytes) -> str | None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return read_parameters(image)


def _timestamp(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y%m%d%H%M%S")
