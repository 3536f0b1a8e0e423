"""Stable Diffusion inpainting for the tools (object removal, outpainting, hairstyles): the masked
region is cropped with some context, painted at the model's working resolution, scaled back and
blended into the image at its own resolution, so pixels outside the mask never change."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from PIL import Image, ImageFilter

from imgopen.catalog.catalog import ModelEntry
from imgopen.engine.generate import seeded_generators
from imgopen.engine.images import fill_masked, masked_region, paste_back
from imgopen.engine.progress import StepProgress
from imgopen.engine.prompt_encoding import encode_prompts
from imgopen.engine.prompt_syntax import extract_networks
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext

WORK_SIDE = {"SD 1.5": 512, "SD 2.x": 768, "SDXL 1.0": 1024}


@dataclass
class InpaintJob:
    image: Image.Image  # RGB
    mask: Image.Image  # L, white = repaint
    prompt: str
    negative_prompt: str = ""
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str | None = None
    seed: int = -1
    count: int = 1
    strength: float = 1.0
    checkpoint: str | None = None
    padding: int = 32
    mask_blur: int = 4
    fill: int = 1  # as A1111's inpainting_fill: 0 fill, 1 original, 2 latent noise, 3 latent nothing
    work_side: int | None = None  # working resolution; default by base model (tests use tiny sizes)


@dataclass
class InpaintOutcome:
    images: list[Image.Image]
    seeds: list[int]
    checkpoint: ModelEntry


def work_size(crop: tuple[int, int], side: int) -> tuple[int, int]:
    """The crop's aspect ratio at about side x side pixels, multiples of 8."""
    scale = math.sqrt(side * side / (crop[0] * crop[1]))
    width, height = max(64, round(crop[0] * scale / 8) * 8), max(64, round(crop[1] * scale / 8) * 8)
    return width, height


def run_inpaint(engine: object, job: InpaintJob, ctx: TaskContext) -> InpaintOutcome:
    """Paint job.mask's white area of job.image `count` times with SD (see module doc)."""
    from imgopen.engine.resolve import GENERATION_FAMILIES, default_checkpoint
    from imgopen.engine.service import DiffusionEngine

    assert isinstance(engine, DiffusionEngine)
    catalog = engine.catalog
    if job.checkpoint:
        checkpoint = catalog.require("checkpoint", job.checkpoint, "checkpoint")
        if checkpoint.base_model not in GENERATION_FAMILIES:
            raise ImgOpenError("400", f"checkpoint: {checkpoint.name} is not a Stable Diffusion checkpoint")
    else:
        checkpoint = default_checkpoint(catalog, engine.settings.default_checkpoint)
    mask = job.mask.convert("L")
    if job.mask_blur:
        mask = mask.filter(ImageFilter.GaussianBlur(job.mask_blur))
    if mask.getbbox() is None:
        raise ImgOpenError("400", "mask: nothing to paint (the mask is empty)")
    side = job.work_side or WORK_SIDE.get(checkpoint.base_model, 512)
    probe = masked_region(mask, job.padding, (1, 1))
    assert probe is not None
    size = work_size(probe.size, side)
    region = masked_region(mask, job.padding, size)
    assert region is not None
    image = job.image.convert("RGB")
    first = job.seed if job.seed >= 0 else secrets.randbelow(2**32 - job.count)
    seeds = [first + index for index in range(job.count)]
    source = fill_masked(image, mask, job.fill, first)
    crop = source.crop(region.box).resize(size, Image.Resampling.LANCZOS)
    crop_mask = mask.crop(region.box).resize(size, Image.Resampling.LANCZOS)
    prompt, tags = extract_networks(job.prompt)
    negative, negative_tags = extract_networks(job.negative_prompt)
    if tags or negative_tags:
        ctx.warn("LoRA tags in this tool's prompt are not applied")

    def paint() -> list[Image.Image]:
        with engine.checkpoint(checkpoint) as loaded:
            pipe = loaded.variant("inpaint")
            loaded.configure(pipe, job.sampler, None)
            loaded.apply_loras([])
            embeds = encode_prompts(pipe, prompt, negative).as_kwargs()
            progress = StepProgress(ctx, job.count * max(1, int(job.steps * job.strength)), loaded.family, size)
            painted: list[Image.Image] = []
            for seed in seeds:
                output = pipe(
                    **embeds,
                    image=crop,
                    mask_image=crop_mask,
                    width=size[0],
                    height=size[1],
                    strength=job.strength,
                    num_inference_steps=job.steps,
                    guidance_scale=job.cfg_scale,
                    generator=seeded_generators([seed]),
                    callback_on_step_end=progress.callback(),
                    callback_on_step_end_tensor_inputs=["latents"],
                )
                painted.append(paste_back(image, output.images[0], mask, region))
            return painted

    images = engine.with_memory_retry(paint, f"inpainting {image.width}x{image.height}")
    return InpaintOutcome(images, seeds, checkpoint)
