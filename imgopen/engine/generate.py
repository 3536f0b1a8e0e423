"""One SD generation task, as Automatic1111 runs it: text2image or image2image (with inpainting),
optionally steered by ControlNet units, then hires fix and ADetailer, each image with its own
seed and its parameters written into the file."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from imgopen import __version__
from imgopen.engine.controlnet import ControlSetup, prepare_controls
from imgopen.engine.images import CropRegion, fill_masked, masked_region, paste_back, prepare_mask, resize_to
from imgopen.engine.params import ControlNetParams, Image2ImageParams, Text2ImageParams
from imgopen.engine.pipelines import LoadedCheckpoint
from imgopen.engine.progress import StepProgress
from imgopen.engine.prompt_encoding import encode_prompts
from imgopen.engine.resolve import LATENT_UPSCALERS, Resolved
from imgopen.tasks.context import TaskContext
from imgopen.vision.control.models import AnnotatorModels
from imgopen.vision.upscale.service import Upscalers

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """Prepared inputs of a generation (the same for every iteration)."""

    kind: str  # text2image | image2image | inpaint
    init: Image.Image | None = None
    mask: Image.Image | None = None
    region: CropRegion | None = None
    original: Image.Image | None = None
    full_mask: Image.Image | None = None  # the whole image's mask: pastes the result back
    controls: ControlSetup | None = None


def seeded_generators(seeds: list[int]) -> list[torch.Generator]:
    # On the CPU whatever the device: the same seed gives the same image on CPU and GPU runs.
    return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]


def plan_inputs(params: Text2ImageParams, ctx: TaskContext, seed: int) -> Plan:
    size = (params.width, params.height)
    if not isinstance(params, Image2ImageParams) or params.image_link is None:
        return Plan("text2image")
    original = ctx.image(params.image_link, "image_link")
    if params.mask_link is None:
        return Plan("image2image", init=resize_to(original, size, params.resize_mode))
    source = resize_to(original, size, params.resize_mode)
    blur_x = params.mask_blur if params.mask_blur_x is None else params.mask_blur_x
    blur_y = params.mask_blur if params.mask_blur_y is None else params.mask_blur_y
    mask = prepare_mask(
        ctx.image(params.mask_link, "mask_link", mode="L"),
        size,
        params.resize_mode,
        bool(params.inpainting_mask_invert),
        blur_x,
        blur_y,
    )
    filled = fill_masked(source, mask, params.inpainting_fill, seed)
    region = masked_region(mask, params.inpaint_full_res_padding, size) if params.inpaint_full_res else None
    if params.inpaint_full_res and region is None:
        ctx.warn("mask_link: the mask is empty; the image is returned repainted nowhere")
    init, crop_mask = filled, mask
    if region is not None:
        init = filled.crop(region.box).resize(size, Image.Resampling.LANCZOS)
        crop_mask = mask.crop(region.box).resize(size, Image.Resampling.LANCZOS)
    return Plan("inpaint", init=init, mask=crop_mask, region=region, original=source, full_mask=mask)


class Generator:
    """Runs the passes of one task on a loaded checkpoint (held exclusively by the caller)."""

    def __init__(
        self,
        loaded: LoadedCheckpoint,
        params: Text2ImageParams,
        resolved: Resolved,
        ctx: TaskContext,
        vae: Any | None,
        controlnets: list[Any],
        upscalers: Upscalers,
        annotators: AnnotatorModels | None = None,
    ) -> None:
        self.loaded = loaded
        self.upscalers = upscalers
        self.annotators = annotators  # the preprocessors' networks (None: loaded for the call)
        self.params = params
        self.resolved = resolved
        self.ctx = ctx
        self.vae = vae
        self.controlnets = controlnets
        self.size = (params.width, params.height)

    def run(self) -> list[Image.Image]:
        params = self.params
        seeds = params.seeds()
        self.seeds = seeds
        plan = plan_inputs(params, self.ctx, seeds[0])
        if isinstance(params, ControlNetParams):
            plan.controls = prepare_controls(params, self.resolved, self.ctx, self.size, plan.init, self.annotators)
        pipe = self._pipeline(plan)
        embeds = encode_prompts(pipe, self.resolved.prompt, self.resolved.negative_prompt, params.clip_skip).as_kwargs()
        self.embeds = embeds
        progress = StepProgress(self.ctx, self._planned_steps(plan), self.loaded.family, self.size)
        self.progress = progress
        images: list[Image.Image] = []
        with plan.controls.soft_injection(self.controlnets) if plan.controls else contextlib.nullcontext():
            for iteration in range(params.n_iter):
                images.extend(self._iteration(pipe, plan, seeds, iteration))
        return images

    def _iteration(self, pipe: Any, plan: Plan, seeds: list[int], iteration: int) -> list[Image.Image]:
        params, embeds, progress = self.params, self.embeds, self.progress
        batch_seeds = seeds[iteration * params.batch_size : (iteration + 1) * params.batch_size]
        latent_hires = params.enable_hr and plan.kind == "text2image" and params.hr_upscaler in LATENT_UPSCALERS
        output = pipe(
            **embeds,
            **self._kind_arguments(plan),
            num_inference_steps=params.steps,
            guidance_scale=params.cfg_scale,
            num_images_per_prompt=params.batch_size,
            generator=seeded_generators(batch_seeds),
            callback_on_step_end=progress.callback(),
            callback_on_step_end_tensor_inputs=["latents"],
            output_type="latent" if latent_hires else "pil",
        )
        batch = output.images
        if params.enable_hr and plan.kind == "text2image":
            batch = self._hires(batch, batch_seeds, latent_hires)
        if plan.kind == "inpaint" and plan.original is not None and plan.full_mask is not None:
            batch = [paste_back(plan.original, image, plan.full_mask, plan.region) for image in batch]
        return list(batch)

    # --- pipelines ------------------------------------------------------------------------------
    def _pipeline(self, plan: Plan) -> Any:
        if plan.controls is not None:
            pipe = self.loaded.controlnet_pipeline(plan.kind, plan.controls.model_argument(self.controlnets))
        else:
            pipe = self.loaded.variant(plan.kind)
        self.loaded.configure(pipe, self.params.sampler_name, self.vae)
        return pipe

    def _kind_arguments(self, plan: Plan) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if plan.kind == "text2image":
            args.update(width=self.size[0], height=self.size[1])
        else:
            strength = getattr(self.params, "denoising_strength", 0.75)
            args.update(image=plan.init, strength=strength)
            if plan.kind == "inpaint":
                args.update(mask_image=plan.mask, width=self.size[0], height=self.size[1])
        if plan.controls is not None:
            args.update(plan.controls.call_arguments(plan.kind))
        return args

    def _planned_steps(self, plan: Plan) -> int:
        params = self.params
        strength = getattr(params, "denoising_strength", 1.0) if plan.kind != "text2image" else 1.0
        per_pass = max(1, min(params.steps, int(params.steps * strength)))
        total = per_pass * params.n_iter
        if params.enable_hr and plan.kind == "text2image":
            hr_steps = params.hr_second_pass_steps or params.steps
            total += max(1, int(hr_steps * params.denoising_strength)) * params.n_iter
        return total

    # --- hires fix ------------------------------------------------------------------------------
    def hires_size(self) -> tuple[int, int]:
        params = self.params
        width, height = self.size
        if params.hr_resize_x and params.hr_resize_y:
            target = (params.hr_resize_x, params.hr_resize_y)
        elif params.hr_resize_x:
            target = (params.hr_resize_x, round(height * params.hr_resize_x / width))
        elif params.hr_resize_y:
            target = (round(width * params.hr_resize_y / height), params.hr_resize_y)
        else:
            target = (round(width * params.hr_scale), round(height * params.hr_scale))
        return target[0] - target[0] % 8, target[1] - target[1] % 8

    def _hires(self, first: Any, seeds: list[int], latent: bool) -> list[Image.Image]:
        """Upscale the first pass, then refine it with img2img at the larger size."""
        params = self.params
        target = self.hires_size()
        i2i = self.loaded.variant("image2image")
        self.loaded.configure(i2i, params.sampler_name, self.vae)
        if latent:
            factor = i2i.vae_scale_factor
            mode = (
                "nearest"
                if "nearest" in params.hr_upscaler
                else "bicubic"
                if "bicubic" in params.hr_upscaler
                else "bilinear"
            )
            upscaled: Any = torch.nn.functional.interpolate(
                first,
                size=(target[1] // factor, target[0] // factor),
                mode=mode,
                antialias="antialiased" in params.hr_upscaler and mode != "nearest",
            )
        else:
            upscaled = [self._upscale_image(image, target) for image in first]
        output = i2i(
            **self.embeds,
            image=upscaled,
            strength=params.denoising_strength,
            num_inference_steps=params.hr_second_pass_steps or params.steps,
            guidance_scale=params.cfg_scale,
            num_images_per_prompt=params.batch_size,
            generator=seeded_generators(seeds),
            callback_on_step_end=self.progress.callback(),
            callback_on_step_end_tensor_inputs=["latents"],
        )
        return list(output.images)

    def _upscale_image(self, image: Image.Image, target: tuple[int, int]) -> Image.Image:
        if self.params.hr_upscaler == "Nearest":
            return image.resize(target, Image.Resampling.NEAREST)
        if self.resolved.upscaler is None:
            return image.resize(target, Image.Resampling.LANCZOS)
        upscaled, _method = self.upscalers.upscale(image, 0, self.resolved.upscaler, size=target)
        return upscaled


def infotext(params: Text2ImageParams, resolved: Resolved, seed: int, extra: dict[str, Any]) -> str:
    """The parameters line A1111 writes into its images (and reads back with "PNG Info")."""
    fields: dict[str, Any] = {
        "Steps": params.steps,
        "Sampler": params.sampler_name or "model default",
        "CFG scale": params.cfg_scale,
        "Seed": seed,
        "Size": f"{params.width}x{params.height}",
        "Model hash": resolved.checkpoint.short_hash,
        "Model": resolved.checkpoint.stem,
        "VAE": resolved.vae.stem if resolved.vae else None,
        "Clip skip": params.clip_skip if params.clip_skip > 1 else None,
        "Denoising strength": getattr(params, "denoising_strength", None)
        if isinstance(params, Image2ImageParams) or params.enable_hr
        else None,
        **(_hires_fields(params) if params.enable_hr and not isinstance(params, Image2ImageParams) else {}),
        "Lora hashes": ", ".join(f"{u.entry.stem}: {u.entry.short_hash}" for u in resolved.loras if u.entry.short_hash)
        or None,
        **extra,
        "Version": f"imgopen {__version__}",
    }
    line = ", ".join(f"{key}: {value}" for key, value in fields.items() if value not in (None, ""))
    text = params.prompt
    if params.negative_prompt:
        text += f"\nNegative prompt: {params.negative_prompt}"
    return f"{text}\n{line}"


def _hires_fields(params: Text2ImageParams) -> dict[str, Any]:
    resize = params.hr_resize_x or params.hr_resize_y
    return {
        "Hires upscale": None if resize else params.hr_scale,
        "Hires resize": f"{params.hr_resize_x}x{params.hr_resize_y}" if resize else None,
        "Hires steps": params.hr_second_pass_steps or None,
        "Hires upscaler": params.hr_upscaler,
    }
