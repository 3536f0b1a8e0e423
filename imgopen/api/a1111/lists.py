"""/sdapi/v1 lists and server information: models, LoRAs, VAEs, embeddings, samplers, schedulers,
upscalers, face restorers, scripts, memory, flags; refreshing the model lists."""

from __future__ import annotations

import sys
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from imgopen.api.a1111.auth import A1111Key
from imgopen.api.a1111.schemas import ERRORS
from imgopen.api.deps import ServicesDep
from imgopen.api.lean_route import LeanRoute
from imgopen.engine.resolve import IMAGE_UPSCALERS, LATENT_UPSCALERS
from imgopen.engine.samplers import SAMPLERS
from imgopen.vision.upscale.bundled_models import A1111_NAMES, installed

router = APIRouter(prefix="/sdapi/v1", tags=["automatic1111"], route_class=LeanRoute)


@router.get("/sd-models", responses=ERRORS, summary="Checkpoints")
async def sd_models(key: A1111Key, services: ServicesDep) -> list[dict[str, Any]]:
    entries = await run_in_threadpool(services.catalog.entries, "checkpoint")
    return [
        {
            "title": e.title,
            "model_name": e.stem,
            "hash": e.short_hash,
            "sha256": e.sha256,
            "filename": str(e.path),
            "config": None,
        }
        for e in entries
    ]


@router.get("/sd-vae", responses=ERRORS, summary="VAEs")
async def sd_vae(key: A1111Key, services: ServicesDep) -> list[dict[str, Any]]:
    entries = await run_in_threadpool(services.catalog.entries, "vae")
    return [{"model_name": e.name, "filename": str(e.path)} for e in entries]


@router.get("/loras", responses=ERRORS, summary="LoRAs")
async def loras(key: A1111Key, services: ServicesDep) -> list[dict[str, Any]]:
    entries = await run_in_threadpool(services.catalog.entries, "lora")
    return [{"name": e.stem, "alias": e.stem, "path": str(e.path), "metadata": dict(e.metadata)} for e in entries]


@router.get("/embeddings", responses=ERRORS, summary="Textual inversion embeddings")
async def embeddings(key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    entries = await run_in_threadpool(services.catalog.entries, "embedding")
    loaded = {
        e.stem: {
            "step": None,
            "sd_checkpoint": None,
            "sd_checkpoint_name": None,
            "shape": e.details.get("width"),
            "vectors": e.details.get("vectors"),
        }
        for e in entries
    }
    return {"loaded": loaded, "skipped": {}}


@router.get("/hypernetworks", responses=ERRORS, summary="Hypernetworks (none: not supported)")
async def hypernetworks(key: A1111Key) -> list[dict[str, Any]]:
    return []


@router.get("/prompt-styles", responses=ERRORS, summary="Saved prompt styles (none)")
async def prompt_styles(key: A1111Key) -> list[dict[str, Any]]:
    return []


@router.get("/samplers", responses=ERRORS, summary="Samplers")
async def samplers(key: A1111Key) -> list[dict[str, Any]]:
    return [
        {"name": name, "aliases": [], "options": {"note": spec.note} if spec.note else {}}
        for name, spec in SAMPLERS.items()
    ]


@router.get("/schedulers", responses=ERRORS, summary="Schedulers")
async def schedulers(key: A1111Key) -> list[dict[str, Any]]:
    return [
        {"name": "automatic", "label": "Automatic", "aliases": None, "default_rho": -1, "need_inner_model": False},
        {"name": "karras", "label": "Karras", "aliases": None, "default_rho": 7.0, "need_inner_model": False},
    ]


@router.get("/upscalers", responses=ERRORS, summary="Upscalers")
async def upscalers(key: A1111Key, services: ServicesDep) -> list[dict[str, Any]]:
    def listing() -> list[dict[str, Any]]:
        def row(name: str, model: str | None, path: str | None, scale: int | None) -> dict[str, Any]:
            return {"name": name, "model_name": model, "model_path": path, "model_url": None, "scale": scale}

        bundled = {name: model for model in installed() for name in (model.family, model.name)}
        rows = [row(name, None, None, 4) for name in IMAGE_UPSCALERS]
        rows += [row(name, bundled[target].name, None, 4) for name, target in A1111_NAMES.items() if target in bundled]
        rows += [row(model.name, model.name, None, model.scale) for model in installed()]
        rows += [row(path.name, path.stem, str(path), None) for path in services.checks.upscalers.files()]
        return rows

    return await run_in_threadpool(listing)


@router.get("/latent-upscale-modes", responses=ERRORS, summary="Latent upscale modes of the hires fix")
async def latent_upscale_modes(key: A1111Key) -> list[dict[str, Any]]:
    return [{"name": name} for name in LATENT_UPSCALERS]


@router.get("/face-restorers", responses=ERRORS, summary="Face restorers (the codeformer tool's)")
async def face_restorers(key: A1111Key) -> list[dict[str, Any]]:
    return [{"name": "CodeFormer", "cmd_dir": None}, {"name": "GFPGAN", "cmd_dir": None}]


@router.get("/realesrgan-models", responses=ERRORS, summary="The bundled Real-ESRGAN networks")
async def realesrgan_models(key: A1111Key) -> list[dict[str, Any]]:
    return [{"name": m.name, "path": None, "scale": m.scale} for m in installed()]


@router.post("/refresh-checkpoints", responses=ERRORS, summary="Rescan the models folder")
async def refresh_checkpoints(key: A1111Key, services: ServicesDep) -> None:
    await run_in_threadpool(services.catalog.refresh)


@router.post("/refresh-loras", responses=ERRORS, summary="Rescan the models folder")
async def refresh_loras(key: A1111Key, services: ServicesDep) -> None:
    await run_in_threadpool(services.catalog.refresh)


@router.post("/refresh-vae", responses=ERRORS, summary="Rescan the models folder")
async def refresh_vae(key: A1111Key, services: ServicesDep) -> None:
    await run_in_threadpool(services.catalog.refresh)


@router.get("/memory", responses=ERRORS, summary="Memory of this process's machine")
async def memory(key: A1111Key) -> dict[str, Any]:
    return await run_in_threadpool(_memory)


def _memory() -> dict[str, Any]:
    fields: dict[str, int] = {}
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            name, _, rest = line.partition(":")
            fields[name] = int(rest.split()[0]) * 1024
    total, free = fields.get("MemTotal", 0), fields.get("MemAvailable", 0)
    cuda: dict[str, Any] = {"error": "no GPU in this process (a cluster's GPUs are its workers': imgopen workers)"}
    torch = sys.modules.get("torch")  # only where the models run in this process (imgopen serve)
    if torch is not None and torch.cuda.is_available():
        gpu_free, gpu_total = torch.cuda.mem_get_info()
        cuda = {"system": {"free": gpu_free, "used": gpu_total - gpu_free, "total": gpu_total}}
    return {"ram": {"free": free, "used": total - free, "total": total}, "cuda": cuda}


SCRIPTS = ["controlnet", "adetailer"]


@router.get("/scripts", responses=ERRORS, summary="Scripts: the always-on ones this server runs")
async def scripts(key: A1111Key) -> dict[str, list[str]]:
    return {"txt2img": SCRIPTS, "img2img": SCRIPTS}


@router.get("/script-info", responses=ERRORS, summary="The always-on scripts and their arguments")
async def script_info(key: A1111Key) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "is_alwayson": True,
            "is_img2img": img2img,
            "args": [{"label": "units" if name == "controlnet" else "passes", "value": None}],
        }
        for name in SCRIPTS
        for img2img in (False, True)
    ]


@router.get("/cmd-flags", responses=ERRORS, summary="Server flags (as A1111 names them)")
async def cmd_flags(key: A1111Key, services: ServicesDep) -> dict[str, Any]:
    settings = services.settings
    return {
        "api": True,
        "nowebui": True,
        "listen": settings.host in ("0.0.0.0", "::"),
        "port": settings.port,
        "api_auth": None,  # never shown
        "ckpt_dir": str(settings.models_dir / "checkpoints"),
        "lora_dir": str(settings.models_dir / "loras"),
        "vae_dir": str(settings.models_dir / "vae"),
        "embeddings_dir": str(settings.models_dir / "embeddings"),
        "device": settings.device,
    }
