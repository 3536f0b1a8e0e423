"""Turning a request's names into installed files: checkpoint, VAE, LoRAs, embeddings, ControlNets.

Run at submit (so an unknown name answers "404" at once) and again when the task runs (files
may have gone meanwhile).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from imgopen.catalog.catalog import ModelCatalog, ModelEntry
from imgopen.engine.params import ControlNetParams, ControlNetUnit, Text2ImageParams
from imgopen.engine.prompt_syntax import PromptSyntaxError, extract_networks
from imgopen.errors import ImgOpenError
from imgopen.vision.upscale.names import AUTO, LANCZOS, UpscalerNames

GENERATION_FAMILIES = ("SD 1.5", "SD 2.x", "SDXL 1.0")
LATENT_UPSCALERS = (
    "Latent",
    "Latent (antialiased)",
    "Latent (bicubic)",
    "Latent (bicubic antialiased)",
    "Latent (nearest)",
    "Latent (nearest-exact)",
)
IMAGE_UPSCALERS = ("None", "Lanczos", "Nearest")
_AUTOMATIC_VAE = ("", "automatic", "none", "None")


@dataclass
class LoraUse:
    entry: ModelEntry
    weight: float
    te_weight: float | None


@dataclass
class Resolved:
    checkpoint: ModelEntry
    vae: ModelEntry | None
    prompt: str
    negative_prompt: str
    loras: list[LoraUse] = field(default_factory=list)
    embeddings: list[ModelEntry] = field(default_factory=list)
    controlnets: list[tuple[ControlNetUnit, ModelEntry]] = field(default_factory=list)
    upscaler: str | Path | None = None  # for Upscalers.upscale: a bundled name or an installed file
    warnings: list[str] = field(default_factory=list)


def default_checkpoint(catalog: ModelCatalog, preferred: str | None) -> ModelEntry:
    if preferred:
        return catalog.require("checkpoint", preferred, "IMGOPEN_DEFAULT_CHECKPOINT")
    usable = [e for e in catalog.entries("checkpoint") if e.base_model in GENERATION_FAMILIES]
    if not usable:
        folder = catalog.models_dir / "checkpoints"
        raise ImgOpenError(
            "503",
            f"no Stable Diffusion checkpoint is installed: put a .safetensors checkpoint (SD 1.5, SD 2.x or SDXL) or "
            f"a diffusers folder into {folder} (imgopen models pull REPO can fetch one where there is internet)",
        )
    # A plain checkpoint rather than an inpainting one, when the user did not say.
    usable.sort(key=lambda e: (e.variant == "inpainting", e.name.lower()))
    return usable[0]


def resolve(
    params: Text2ImageParams, catalog: ModelCatalog, upscalers: UpscalerNames, preferred_default: str | None = None
) -> Resolved:
    """Every name in the request, found in the catalog; "404" / "400" / "503" naming what is wrong."""
    if params.sd_model_checkpoint:
        checkpoint = catalog.require("checkpoint", params.sd_model_checkpoint, "sd_model_checkpoint")
        if checkpoint.base_model not in GENERATION_FAMILIES:
            raise ImgOpenError(
                "400",
                f"sd_model_checkpoint: {checkpoint.name} is a {checkpoint.base_model} model; the SD endpoints run "
                "SD 1.5, SD 2.x and SDXL (Flux runs through tool/comfyui/text2image)",
            )
    else:
        checkpoint = default_checkpoint(catalog, preferred_default)
    vae = None
    if params.sd_vae and params.sd_vae.strip() not in _AUTOMATIC_VAE:
        vae = catalog.require("vae", params.sd_vae, "sd_vae")
    try:
        prompt, prompt_tags = extract_networks(params.prompt)
        negative, negative_tags = extract_networks(params.negative_prompt)
    except PromptSyntaxError as exc:
        raise ImgOpenError("400", f"prompt: {exc}") from exc
    resolved = Resolved(checkpoint=checkpoint, vae=vae, prompt=prompt, negative_prompt=negative)
    for tag in [*prompt_tags, *negative_tags]:
        if tag.kind not in ("lora", "lyco"):
            resolved.warnings.append(f"<{tag.kind}:{tag.name}> ignored: imgopen applies LoRAs, not {tag.kind} networks")
            continue
        entry = catalog.require("lora", tag.name, f"prompt <lora:{tag.name}>")
        _check_family(entry, checkpoint, f"<lora:{tag.name}>")
        resolved.loras.append(LoraUse(entry, tag.weight, tag.te_weight))
    resolved.embeddings = _embeddings_in(catalog, f"{prompt} {negative}", checkpoint)
    if isinstance(params, ControlNetParams):
        for index, unit in enumerate(params.controlnet.args):
            if unit.active:
                entry = catalog.require("controlnet", unit.model, f"controlnet.args[{index}].model")
                _check_family(entry, checkpoint, f"controlnet.args[{index}].model")
                resolved.controlnets.append((unit, entry))
    if params.enable_hr and params.hr_upscaler not in LATENT_UPSCALERS + IMAGE_UPSCALERS:
        upscaler = catalog.find("upscaler", params.hr_upscaler)
        if upscaler is not None:
            resolved.upscaler = upscaler.path
        elif params.hr_upscaler.strip().lower() not in (AUTO, LANCZOS) and upscalers.knows(params.hr_upscaler):
            resolved.upscaler = params.hr_upscaler
        else:
            named = [n for n in upscalers.names() if n not in (AUTO, LANCZOS)]
            valid = ", ".join([*LATENT_UPSCALERS, *IMAGE_UPSCALERS, *named])
            raise ImgOpenError("404", f"hr_upscaler: no upscaler {params.hr_upscaler!r}; valid: {valid}")
    return resolved


def _check_family(entry: ModelEntry, checkpoint: ModelEntry, what: str) -> None:
    if entry.base_model not in ("unknown", checkpoint.base_model):
        detail = f"{entry.name} is for {entry.base_model}, the checkpoint {checkpoint.name} is {checkpoint.base_model}"
        raise ImgOpenError("400", f"{what}: {detail}")


def _embeddings_in(catalog: ModelCatalog, text: str, checkpoint: ModelEntry) -> list[ModelEntry]:
    """Installed embeddings whose name appears as a word in the prompts (A1111 matches names)."""
    words = set(re.findall(r"[\w\-.]+", text))
    found = []
    for entry in catalog.entries("embedding"):
        if entry.stem in words and entry.base_model in ("unknown", checkpoint.base_model):
            found.append(entry)
    return found
