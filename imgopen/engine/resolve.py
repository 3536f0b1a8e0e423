"""Turning a request's names into installed files: checkpoint, VAE, LoRAs, embeddings, ControlNets.

Run at submit (so an unknown name answers "404" at once) and again when the task runs (files
may have gone meanwhile).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgopen.catalog.catalog import ModelCatalog, ModelEntry
from imgopen.catalog.detect import FLUX_DEV, FLUX_FAMILIES
from imgopen.engine.params import ControlNetParams, ControlNetUnit, Image2ImageParams, Text2ImageParams
from imgopen.engine.prompt_syntax import PromptSyntaxError, extract_networks, plain_prompt
from imgopen.engine.samplers import approximation, check_flux_sampler
from imgopen.errors import ImgOpenError
from imgopen.vision.upscale.names import AUTO, LANCZOS, UpscalerNames

# Stable Diffusion: what the tools' SD paths (inpainting, training...) take.
GENERATION_FAMILIES = ("SD 1.5", "SD 2.x", "SDXL 1.0")
# What the SD endpoints run: Stable Diffusion, and Flux as Forge runs it.
SD_ENDPOINT_FAMILIES = (*GENERATION_FAMILIES, *FLUX_FAMILIES)
INSTRUCT_PIX2PIX = "instruct-pix2pix"
DEFAULT_IMAGE_CFG_SCALE = 1.5  # A1111's, for instruct-pix2pix checkpoints
# Variants that are not the plain model of their family: chosen as the default only when nothing else is there.
_SPECIAL_VARIANTS = ("inpainting", INSTRUCT_PIX2PIX, "control", "refiner", "x4-upscaler", "depth")
# cfg_scale values that say nothing for Flux: the API's default, and "CFG off".
_FLUX_SILENT_CFG = (7.0, 1.0)
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
    # Infotext fields beyond the request's own (notes on what ran differently), in order.
    infotext: dict[str, Any] = field(default_factory=dict)

    @property
    def is_flux(self) -> bool:
        return self.checkpoint.base_model in FLUX_FAMILIES

    @property
    def is_instruct_pix2pix(self) -> bool:
        return self.checkpoint.variant == INSTRUCT_PIX2PIX


def default_checkpoint(
    catalog: ModelCatalog, preferred: str | None, families: tuple[str, ...] = GENERATION_FAMILIES
) -> ModelEntry:
    if preferred:
        return catalog.require("checkpoint", preferred, "IMGOPEN_DEFAULT_CHECKPOINT")
    usable = [e for e in catalog.entries("checkpoint") if e.base_model in families]
    if not usable:
        folder = catalog.models_dir / "checkpoints"
        kinds = "SD 1.5, SD 2.x, SDXL or Flux.1" if set(FLUX_FAMILIES) & set(families) else "SD 1.5, SD 2.x or SDXL"
        raise ImgOpenError(
            "503",
            f"no Stable Diffusion checkpoint is installed: put a .safetensors checkpoint ({kinds}) or "
            f"a diffusers folder into {folder} (imgopen models pull REPO can fetch one where there is internet)",
        )
    # A plain Stable Diffusion checkpoint rather than an inpainting or Flux one, when the user did not say.
    usable.sort(key=lambda e: (e.base_model in FLUX_FAMILIES, e.variant in _SPECIAL_VARIANTS, e.name.lower()))
    return usable[0]


def resolve(
    params: Text2ImageParams, catalog: ModelCatalog, upscalers: UpscalerNames, preferred_default: str | None = None
) -> Resolved:
    """Every name in the request, found in the catalog; "404" / "400" / "503" naming what is wrong."""
    if params.sd_model_checkpoint:
        checkpoint = catalog.require("checkpoint", params.sd_model_checkpoint, "sd_model_checkpoint")
        if checkpoint.base_model not in SD_ENDPOINT_FAMILIES:
            raise ImgOpenError(
                "400",
                f"sd_model_checkpoint: {checkpoint.name} is a {checkpoint.base_model} model; the SD endpoints run "
                "SD 1.5, SD 2.x, SDXL and Flux.1",
            )
    else:
        checkpoint = default_checkpoint(catalog, preferred_default, SD_ENDPOINT_FAMILIES)
    vae = None
    if params.sd_vae and params.sd_vae.strip() not in _AUTOMATIC_VAE:
        vae = catalog.require("vae", params.sd_vae, "sd_vae")
        _check_vae(vae, checkpoint)
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
    resolved.warnings.extend(params.ignored_settings())
    if resolved.is_flux:
        _flux_rules(params, resolved)
    else:
        _sd_rules(params, resolved)
    _image_rules(params, resolved)
    return resolved


def _sd_rules(params: Text2ImageParams, resolved: Resolved) -> None:
    """What a Stable Diffusion checkpoint does differently from A1111 (approximated samplers)."""
    note = approximation(params.sampler_name)
    if note:
        resolved.warnings.append(f"sampler_name: {params.sampler_name} is {note}")
        resolved.infotext["Sampler approximation"] = note
    if params.distilled_cfg_scale != 3.5:
        resolved.warnings.append("distilled_cfg_scale: applies to Flux dev checkpoints only; ignored")


def _flux_rules(params: Text2ImageParams, resolved: Resolved) -> None:
    """Flux as Forge runs it: distilled guidance, CFG off, Euler; "400" for what does not apply."""
    checkpoint = resolved.checkpoint
    name = checkpoint.name
    note = check_flux_sampler(params.sampler_name, name)
    if note:
        resolved.warnings.append(note)
    has_mask = isinstance(params, Image2ImageParams) and params.image_link is not None and params.mask_link is not None
    if checkpoint.variant == "control":
        raise ImgOpenError(
            "400",
            f"sd_model_checkpoint: {name} is a Flux control (depth / canny) model, which the SD endpoints do not run; "
            "use a FLUX.1 dev or schnell checkpoint",
        )
    if checkpoint.variant == "inpainting" and not has_mask:
        raise ImgOpenError(
            "400",
            f"sd_model_checkpoint: {name} is a Flux Fill (inpainting) model: it repaints the masked part of an image; "
            "send sd/v2/image2image with image_link and mask_link, or use a FLUX.1 dev or schnell checkpoint",
        )
    if isinstance(params, ControlNetParams):
        raise ImgOpenError(
            "400",
            f"controlnet: ControlNet units are not supported with Flux checkpoints ({name}); use an SD 1.5 or SDXL "
            "checkpoint with its ControlNets, or sd/v2/text2image / image2image for Flux",
        )
    dev = checkpoint.base_model == FLUX_DEV
    if params.cfg_scale not in _FLUX_SILENT_CFG:
        steer = f"distilled_cfg_scale (now {params.distilled_cfg_scale:g})" if dev else "nothing (schnell is unguided)"
        resolved.warnings.append(
            f"cfg_scale: {params.cfg_scale:g} is not used with Flux ({name}): true CFG is off, guidance comes from "
            f"{steer}"
        )
    if resolved.negative_prompt.strip():
        resolved.warnings.append(f"negative_prompt: not used with Flux ({name}): true CFG is off")
    if not dev and params.distilled_cfg_scale != 3.5:
        resolved.warnings.append(f"distilled_cfg_scale: {name} is Flux schnell, which has no guidance input; ignored")
    if plain_prompt(resolved.prompt)[1]:
        resolved.warnings.append(
            "prompt: attention weights such as (word:1.2) are not applied with Flux; the words are kept"
        )
    if params.clip_skip > 1:
        resolved.warnings.append("clip_skip (CLIP_stop_at_last_layers): not applied with Flux")
    resolved.infotext["CFG scale"] = 1
    if dev:
        resolved.infotext["Distilled CFG Scale"] = params.distilled_cfg_scale


def _image_rules(params: Text2ImageParams, resolved: Resolved) -> None:
    """instruct-pix2pix checkpoints edit an init image (image guidance: image_cfg_scale); others ignore
    image_cfg_scale (A1111 clients send it always), saying so."""
    checkpoint = resolved.checkpoint
    image = isinstance(params, Image2ImageParams) and params.image_link is not None
    if resolved.is_instruct_pix2pix:
        assert not resolved.is_flux
        if not image:
            raise ImgOpenError(
                "400",
                f"sd_model_checkpoint: {checkpoint.name} is an instruct-pix2pix model: it edits an image; send "
                "sd/v2/image2image with image_link",
            )
        if isinstance(params, ControlNetParams):
            raise ImgOpenError(
                "400", f"controlnet: ControlNet units are not supported with instruct-pix2pix ({checkpoint.name})"
            )
        if params.ADetailer is not None and params.ADetailer.args:
            raise ImgOpenError("400", f"ADetailer: not supported with instruct-pix2pix ({checkpoint.name})")
        assert isinstance(params, Image2ImageParams)
        scale = DEFAULT_IMAGE_CFG_SCALE if params.image_cfg_scale is None else params.image_cfg_scale
        resolved.infotext["Image CFG scale"] = scale
        if params.initial_noise_multiplier != 1.0:
            resolved.warnings.append(
                "initial_noise_multiplier: not used by instruct-pix2pix (no noise is added to the init latents)"
            )
        if params.denoising_strength < 1:
            resolved.warnings.append(
                f"denoising_strength: {params.denoising_strength:g} is not used by instruct-pix2pix: the edit runs "
                "every step from noise, conditioned on the init image (image_cfg_scale sets how closely it follows)"
            )
    elif isinstance(params, Image2ImageParams) and params.image_cfg_scale is not None:
        resolved.warnings.append(
            f"image_cfg_scale: ignored: {checkpoint.name} is not an instruct-pix2pix model (image guidance applies "
            "to those only)"
        )
        resolved.infotext["Image CFG scale ignored"] = "not an instruct-pix2pix model"


def _check_vae(vae: ModelEntry, checkpoint: ModelEntry) -> None:
    """A Flux VAE (16 latent channels) for a Flux checkpoint, an SD one (4) for the others."""
    flux_vae, flux_checkpoint = vae.base_model in FLUX_FAMILIES, checkpoint.base_model in FLUX_FAMILIES
    if vae.base_model != "unknown" and flux_vae != flux_checkpoint:
        detail = f"{vae.name} is for {vae.base_model}, the checkpoint {checkpoint.name} is {checkpoint.base_model}"
        raise ImgOpenError("400", f"sd_vae: {detail}")


def _check_family(entry: ModelEntry, checkpoint: ModelEntry, what: str) -> None:
    same = entry.base_model == checkpoint.base_model or {entry.base_model, checkpoint.base_model} <= set(FLUX_FAMILIES)
    if entry.base_model != "unknown" and not same:
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
