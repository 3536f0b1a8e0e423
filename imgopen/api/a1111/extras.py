"""/sdapi/v1 extras (upscale and face restoration), interrogate and png-info, through the tools the
Img Open API has (imgEnlarge, codeformer, interrogate): the same tasks, the same code."""

from __future__ import annotations

import io
from typing import Any

import pybase64
from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from PIL import Image

from imgopen.api.a1111.auth import A1111Key
from imgopen.api.a1111.schemas import (
    ERRORS,
    A1111InterrogateAnswer,
    A1111InterrogateRequest,
    ExtraBatchAnswer,
    ExtraBatchRequest,
    ExtraSingleAnswer,
    ExtraSingleRequest,
    ExtrasRequest,
    PngInfoAnswer,
    PngInfoRequest,
)
from imgopen.api.a1111.tools import first_output, run
from imgopen.api.deps import ServicesDep
from imgopen.api.errors import A1111_STATUS as STATUS
from imgopen.api.lean_route import LeanRoute
from imgopen.errors import ImgOpenError
from imgopen.media.encode import encode_image
from imgopen.media.parameters import parse_infotext, read_parameters
from imgopen.roles.api import ApiServices

router = APIRouter(prefix="/sdapi/v1", tags=["automatic1111"], route_class=LeanRoute)
_IMAGE_UPSCALERS = {"lanczos": "lanczos"}


async def _extras(services: ApiServices, key_id: str, source: str, body: ExtrasRequest) -> tuple[str, str]:
    """(the result as bare base64 PNG, what was done)."""
    upscaler = body.upscaler_1.strip()
    restore = [(model, visibility) for model, visibility in (("gfpgan", body.gfpgan_visibility),
               ("codeformer", body.codeformer_visibility)) if visibility > 0]  # fmt: skip
    if upscaler.lower() in ("", "none") and not restore:
        raise HTTPException(422, "nothing to do: choose upscaler_1, or a gfpgan/codeformer visibility above 0")
    if body.upscaler_2.strip().lower() not in ("", "none") and body.extras_upscaler_2_visibility > 0:
        raise HTTPException(422, "upscaler_2: a second, blended upscaler is not supported here")
    if upscaler.lower() == "nearest":
        raise HTTPException(422, "upscaler_1: Nearest is not available for extras; use Lanczos or a network")
    done: list[str] = []
    current = source
    steps = ["upscale", "restore"] if body.upscale_first else ["restore", "upscale"]
    size: tuple[int, int] | None = None
    for step in steps:
        if step == "restore":
            for model, visibility in restore:
                current, note = await _restore(services, key_id, current, model, visibility, body.codeformer_weight)
                done.append(note)
        elif upscaler.lower() not in ("", "none"):
            current, note, size = await _upscale(services, key_id, current, upscaler, body)
            done.append(note)
    data = services.inputs.read_bytes(current, "image", key_id)
    if size is not None and body.resize_mode == 1 and body.upscaling_crop:
        data = await run_in_threadpool(_crop_png, data, size)
    return pybase64.b64encode_as_string(data), "; ".join(done)


async def _upscale(
    services: ApiServices, key_id: str, source: str, upscaler: str, body: ExtrasRequest
) -> tuple[str, str, tuple[int, int]]:
    fields: dict[str, Any] = {"sourceImage": source, "model": _IMAGE_UPSCALERS.get(upscaler.lower(), upscaler)}
    target = (body.upscaling_resize_w, body.upscaling_resize_h)
    if body.resize_mode == 1:
        width, height = await run_in_threadpool(_size, services, key_id, source)
        scale = (max if body.upscaling_crop else min)(target[0] / width, target[1] / height)
        fields["scale"] = max(1.0, min(8.0, scale))
    else:
        fields["scale"] = body.upscaling_resize
    task = await run(services, key_id, "imgEnlarge", fields)
    result = task.result or {}
    note = f"upscaled to {result.get('width')}x{result.get('height')} with {result.get('method')}"
    return first_output(task), note, target


async def _restore(
    services: ApiServices, key_id: str, source: str, model: str, visibility: float, weight: float
) -> tuple[str, str]:
    task = await run(services, key_id, "codeformer", {"sourceImage": source, "model": model, "fidelityWeight": weight})
    restored = first_output(task)
    faces = (task.result or {}).get("faceCount")
    if visibility >= 1:
        return restored, f"{faces} face(s) restored with {model}"
    blended = await run_in_threadpool(_blend, services, key_id, source, restored, visibility)
    return blended, f"{faces} face(s) restored with {model}, blended at {visibility:g}"


def _size(services: ApiServices, key_id: str, source: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(services.inputs.read_bytes(source, "image", key_id))) as image:
        return image.size


def _blend(services: ApiServices, key_id: str, before: str, after: str, visibility: float) -> str:
    """The restored image mixed with the one before, `visibility` of the restored (A1111's slider);
    returned as inline base64 (a small PNG stays in the next task's params)."""
    old = Image.open(io.BytesIO(services.inputs.read_bytes(before, "image", key_id))).convert("RGB")
    new = Image.open(io.BytesIO(services.inputs.read_bytes(after, "image", key_id))).convert("RGB")
    mixed = Image.blend(old.resize(new.size, Image.Resampling.LANCZOS), new, visibility)
    return pybase64.b64encode_as_string(encode_image(mixed))


def _crop_png(data: bytes, size: tuple[int, int]) -> bytes:
    """The centre of the image at exactly `size` (A1111's "crop to fit")."""
    with Image.open(io.BytesIO(data)) as image:
        left, top = (image.width - size[0]) // 2, (image.height - size[1]) // 2
        return encode_image(image.crop((left, top, left + size[0], top + size[1])))


@router.post("/extra-single-image", response_model=ExtraSingleAnswer, responses=ERRORS, summary="Upscale, restore")
async def extra_single_image(body: ExtraSingleRequest, key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    image, done = await _extras(services, key.id, body.image, body)
    return {"html_info": f"<p>{done}</p>", "image": image}


@router.post("/extra-batch-images", response_model=ExtraBatchAnswer, responses=ERRORS, summary="Extras, batch")
async def extra_batch_images(body: ExtraBatchRequest, key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    images, notes = [], []
    for item in body.imageList:
        image, done = await _extras(services, key.id, item.data, body)
        images.append(image)
        notes.append(f"{item.name or len(images)}: {done}")
    return {"html_info": "<p>" + "<br>".join(notes) + "</p>", "images": images}


@router.post("/interrogate", response_model=A1111InterrogateAnswer, responses=ERRORS, summary="Describe an image")
async def interrogate(body: A1111InterrogateRequest, key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    if body.model not in ("clip", "deepdanbooru"):
        raise HTTPException(404, f"model: {body.model!r} is not an interrogator; use clip or deepdanbooru")
    task = await run(services, key.id, "interrogate", {"image": body.image, "model": body.model})
    return {"caption": (task.result or {}).get("caption", "")}


@router.post("/png-info", response_model=PngInfoAnswer, responses=ERRORS, summary="Generation parameters of an image")
async def png_info(body: PngInfoRequest, key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        try:
            data = services.inputs.read_bytes(body.image, "image", key.id)
            image = Image.open(io.BytesIO(data))
        except ImgOpenError as exc:
            raise HTTPException(STATUS.get(exc.code, 500), exc.msg) from exc
        except OSError as exc:
            raise HTTPException(422, f"image: not an image ({exc})") from exc
        with image:
            text = read_parameters(image) or ""
            items = {k: v for k, v in image.info.items() if k != "parameters" and isinstance(v, str | int | float)}
        return {"info": text, "items": items, "parameters": parse_infotext(text) if text else {}}

    return await run_in_threadpool(read)
