"""Loading models from the catalog's files, from local files only.

Diffusers folders load as they are. Single files (A1111 / ComfyUI checkpoints) load through a
config folder: the sidecar `NAME.config/` when there is one, else the shipped config of the
base model the weights were detected as. Nothing reaches for a hub.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from imgopen.catalog.catalog import ModelEntry
from imgopen.catalog.detect import FLUX_FAMILIES
from imgopen.engine.device import Placement
from imgopen.engine.tokenizers import CONFIG_FOR_BASE_MODEL, materialize_config
from imgopen.errors import ImgOpenError

log = logging.getLogger(__name__)

SD_FAMILIES = ("SD 1.5", "SD 2.x")


def family_of(entry: ModelEntry) -> str:
    return entry.base_model


def pipeline_class_name(entry: ModelEntry) -> str:
    inpainting = entry.variant == "inpainting"
    pix2pix = entry.variant == "instruct-pix2pix"
    if entry.base_model in SD_FAMILIES:
        if pix2pix:
            return "StableDiffusionInstructPix2PixPipeline"
        return "StableDiffusionInpaintPipeline" if inpainting else "StableDiffusionPipeline"
    if entry.base_model == "SDXL 1.0":
        if pix2pix:
            return "StableDiffusionXLInstructPix2PixPipeline"
        return "StableDiffusionXLInpaintPipeline" if inpainting else "StableDiffusionXLPipeline"
    if entry.base_model in FLUX_FAMILIES:
        return "FluxPipeline"
    raise ImgOpenError(
        "400", f"{entry.name}: its base model is {entry.base_model!r}; imgopen runs SD 1.5, SD 2.x, SDXL and Flux.1"
    )


def config_folder(entry: ModelEntry, cache_dir: Path) -> Path:
    sidecar = entry.sidecar_config
    if sidecar is not None:
        return sidecar
    # No shipped config has an instruct-pix2pix UNet (8 input channels).
    name = (
        None
        if entry.variant == "instruct-pix2pix"
        else CONFIG_FOR_BASE_MODEL.get((entry.base_model, entry.variant == "inpainting"))
    )
    if name is None:
        raise ImgOpenError(
            "503",
            f"{entry.name}: no config for a {entry.base_model} {entry.variant or ''} single file; install the model "
            f"as a diffusers folder, or put its diffusers config folder beside it as {entry.stem}.config/",
        )
    return materialize_config(name, cache_dir)


def load_pipeline(entry: ModelEntry, placement: Placement, cache_dir: Path, flux_donor: ModelEntry | None) -> Any:
    """The entry's pipeline on the placement's device and dtype."""
    import diffusers

    dtype = placement.dtype
    if entry.is_folder:
        extra = _folder_extras(entry.path)
        pipe = diffusers.DiffusionPipeline.from_pretrained(str(entry.path), dtype=dtype, local_files_only=True, **extra)
    elif entry.base_model in FLUX_FAMILIES:
        pipe = _flux_single_file(entry, placement, cache_dir, flux_donor)
    else:
        cls = getattr(diffusers, pipeline_class_name(entry))
        kwargs: dict[str, Any] = {"config": str(config_folder(entry, cache_dir)), "local_files_only": True}
        if entry.base_model in SD_FAMILIES:
            kwargs.update(safety_checker=None, requires_safety_checker=False)
        pipe = cls.from_single_file(str(entry.path), dtype=dtype, **kwargs)
    pipe.to(placement.device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _folder_extras(path: Path) -> dict[str, Any]:
    """No safety checker for SD pipelines (the hosted API has none; it would need extra weights)."""
    try:
        index = json.loads((path / "model_index.json").read_text())
    except (OSError, ValueError):
        return {}
    if "safety_checker" in index:
        return {"safety_checker": None, "requires_safety_checker": False, "feature_extractor": None}
    return {}


def _flux_single_file(entry: ModelEntry, placement: Placement, cache_dir: Path, donor: ModelEntry | None) -> Any:
    """A Flux single file holds the transformer only: text encoders and VAE come from an
    installed Flux diffusers folder."""
    import diffusers

    if donor is None:
        raise ImgOpenError(
            "503",
            f"{entry.name} holds only the Flux transformer; install a FLUX.1 diffusers folder (with text_encoder, "
            "text_encoder_2, tokenizers and vae) into the checkpoints folder to provide the rest",
        )
    config = entry.sidecar_config or config_folder(entry, cache_dir)
    transformer = diffusers.FluxTransformer2DModel.from_single_file(
        str(entry.path), config=str(config), subfolder="transformer", dtype=placement.dtype, local_files_only=True
    )
    return diffusers.FluxPipeline.from_pretrained(
        str(donor.path), transformer=transformer, dtype=placement.dtype, local_files_only=True
    )


def load_vae(entry: ModelEntry, checkpoint: ModelEntry, placement: Placement, cache_dir: Path) -> Any:
    """A VAE override: a diffusers folder, or a single file read with the checkpoint's VAE config."""
    import diffusers

    if entry.is_folder:
        vae = diffusers.AutoencoderKL.from_pretrained(str(entry.path), dtype=placement.dtype, local_files_only=True)
    else:
        config = checkpoint.path if checkpoint.is_folder else config_folder(checkpoint, cache_dir)
        vae = diffusers.AutoencoderKL.from_single_file(
            str(entry.path), config=str(config), subfolder="vae", dtype=placement.dtype, local_files_only=True
        )
    return vae.to(placement.device)


def load_controlnet(entry: ModelEntry, placement: Placement) -> Any:
    import diffusers

    if entry.is_folder:
        model = diffusers.ControlNetModel.from_pretrained(str(entry.path), dtype=placement.dtype, local_files_only=True)
    else:
        sidecar = entry.sidecar_config
        if sidecar is None:
            raise ImgOpenError(
                "503",
                f"controlnet {entry.name}: single-file ControlNets need their diffusers config; install the model as "
                f"a diffusers folder, or put its config folder beside it as {entry.stem}.config/",
            )
        model = diffusers.ControlNetModel.from_single_file(
            str(entry.path), config=str(sidecar), dtype=placement.dtype, local_files_only=True
        )
    return model.to(placement.device)
