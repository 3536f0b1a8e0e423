"""One SD generation task, as Automatic1111 runs it: text2image or image2image (with inpainting),
optionally steered by ControlNet units, then hires fix and ADetailer, each image with its own
seed and its parameters written into the file.

The same path runs every checkpoint the SD endpoints take. Flux runs as Forge runs it: distilled
guidance (distilled_cfg_scale), no true CFG, plain-text prompts, its flow-matching Euler, packed
latents, sizes in multiples of 16. instruct-pix2pix checkpoints edit the init image with image
guidance (image_cfg_scale). A skip (A1111's) ends the current iteration's images as they stand.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from imgopen import __version__
from imgopen.engine.controlnet import ControlSetup, prepare_controls
from imgopen.engine.images import CropRegion, fill_masked, masked_region, paste_back, prepare_mask, resize_to
from imgopen.engine.params import ControlNetParams, Image2ImageParams, Text2ImageParams
from imgopen.engine.pipelines import LoadedCheckpoint
from imgopen.engine.progress import PassSkipped, StepProgress
from imgopen.engine.prompt_encoding import encode_prompts
from imgopen.engine.prompt_syntax import plain_prompt
from imgopen.engine.resolve import DEFAULT_IMAGE_CFG_SCALE, LATENT_UPSCALERS, Resolved
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.vision.control.models import AnnotatorModels
from imgopen.vision.upscale.service import Upscalers

log = logging.getLogger(__name__)

FLUX_SIZE_MULTIPLE = 16  # Flux packs 2x2 latent patches of an 8x VAE


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


def generation_size(width: int, height: int, flux: bool) -> tuple[int, int]:
    """The size a pipeline makes: multiples of 8 (the params' rounding), of 16 for Flux."""
    if not flux:
        return width, height
    return max(FLUX_SIZE_MULTIPLE, width - width % FLUX_SIZE_MULTIPLE), max(
        FLUX_SIZE_MULTIPLE, height - height % FLUX_SIZE_MULTIPLE
    )


def flux_max_sequence(pipe: Any) -> int:
    """Flux's T5 context: 512 tokens (dev's maximum), less when the tokenizer is shorter."""
    tokenizer = getattr(pipe, "tokenizer_2", None)
    return int(min(512, getattr(tokenizer, "model_max_length", 512) or 512))


def flux_unpacker(pipe: Any, size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Flux's packed latents (batch, patches, channels x 4) -> (batch, channels, height, width)."""
    width, height = size

    def unpack(latents: torch.Tensor) -> torch.Tensor:
        unpacked: torch.Tensor = pipe._unpack_latents(latents, height, width, pipe.vae_scale_factor)
        return unpacked

    return unpack


def decode_latents(pipe: Any, latents: torch.Tensor, size: tuple[int, int], flux: bool) -> list[Image.Image]:
    """What a pipeline's last step does with its latents (for a pass a skip ended before it could)."""
    vae = pipe.vae
    if flux:
        latents = flux_unpacker(pipe, size)(latents)
        latents = latents / vae.config.scaling_factor + vae.config.shift_factor
    else:
        latents = latents / vae.config.scaling_factor
    with torch.no_grad():
        decoded = vae.decode(latents.to(vae.dtype), return_dict=False)[0]
    return list(pipe.image_processor.postprocess(decoded, output_type="pil"))


def scale_initial_noise(scheduler: Any, multiplier: float) -> None:
    """A1111's initial_noise_multiplier: the noise added to the init image's latents, scaled. The
    scheduler (fresh for each request, see LoadedCheckpoint.configure) scales the noise it is given
    wherever the pipeline noises init latents (add_noise; scale_noise for flow matching)."""
    if multiplier == 1.0:
        return
    for name, position in (("add_noise", 1), ("scale_noise", 2)):
        original = getattr(scheduler, name, None)
        if original is not None:
            setattr(scheduler, name, _scaled_noise(original, position, multiplier))


def _scaled_noise(original: Callable[..., Any], position: int, multiplier: float) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if "noise" in kwargs:
            kwargs["noise"] = kwargs["noise"] * multiplier
        elif len(args) > position:
            args = (*args[:position], args[position] * multiplier, *args[position + 1 :])
        return original(*args, **kwargs)

    return call


def plan_inputs(params: Text2ImageParams, ctx: TaskContext, seed: int, size: tuple[int, int] | None = None) -> Plan:
    size = size or (params.width, params.height)
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
    if mask.getbbox() is None:
        seen = "all white, and inpainting_mask_invert is 1" if params.inpainting_mask_invert else "all black"
        raise ImgOpenError(
            "400",
            f"mask_link: the mask is empty ({seen}): there is nothing to repaint; white marks what to repaint "
            "(send no mask_link for image2image of the whole image)",
        )
    filled = fill_masked(source, mask, params.inpainting_fill, seed)
    region = masked_region(mask, params.inpaint_full_res_padding, size) if params.inpaint_full_res else None
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
        self.flux = loaded.is_flux
        self.size = generation_size(params.width, params.height, self.flux)
        self.skipped: list[int] = []  # indices of the images a skip ended early

    def run(self) -> list[Image.Image]:
        params = self.params
        seeds = params.seeds()
        self.seeds = seeds
        if self.size != (params.width, params.height):
            self.ctx.warn(
                f"width, height: {params.width}x{params.height} rounded down to {self.size[0]}x{self.size[1]} "
                f"(Flux works in multiples of {FLUX_SIZE_MULTIPLE})"
            )
        plan = plan_inputs(params, self.ctx, seeds[0], self.size)
        if isinstance(params, ControlNetParams):
            plan.controls = prepare_controls(params, self.resolved, self.ctx, self.size, plan.init, self.annotators)
        pipe = self._pipeline(plan)
        self.embeds = self.encode(pipe, self.resolved.prompt, self.resolved.negative_prompt)
        progress = StepProgress(self.ctx, self._planned_steps(plan), self.loaded.family, self.size, skips=True)
        self.progress = progress
        images: list[Image.Image] = []
        with plan.controls.soft_injection(self.controlnets) if plan.controls else contextlib.nullcontext():
            for iteration in range(params.n_iter):
                images.extend(self._iteration(pipe, plan, seeds, iteration))
        return images

    def _iteration(self, pipe: Any, plan: Plan, seeds: list[int], iteration: int) -> list[Image.Image]:
        params = self.params
        batch_seeds = seeds[iteration * params.batch_size : (iteration + 1) * params.batch_size]
        hires = params.enable_hr and plan.kind == "text2image"
        latent_hires = hires and params.hr_upscaler in LATENT_UPSCALERS
        batch = self.call(
            pipe,
            self.size,
            **self.embeds,
            **self._kind_arguments(plan),
            num_inference_steps=params.steps,
            **self.guidance(),
            num_images_per_prompt=params.batch_size,
            generator=seeded_generators(batch_seeds),
            output_type="latent" if latent_hires else "pil",
        )
        skipped = self.progress.take_skip()
        if hires and skipped:
            # A skip ends the image: no second pass (its steps count as done); the size is the asked one.
            self.progress.skip_steps(self._hires_steps())
            batch = self._unrefined(pipe, batch, latent_hires)
        elif hires:
            batch = self._hires(batch, batch_seeds, latent_hires)
            skipped = self.progress.take_skip()
        if skipped:
            self.skipped.extend(range(iteration * params.batch_size, (iteration + 1) * params.batch_size))
        if plan.kind == "inpaint" and plan.original is not None and plan.full_mask is not None:
            batch = [paste_back(plan.original, image, plan.full_mask, plan.region) for image in batch]
        return list(batch)

    # --- what every pass shares -----------------------------------------------------------------
    def encode(self, pipe: Any, prompt: str, negative: str) -> dict[str, Any]:
        """The prompt arguments of a pipeline call: A1111-weighted embeddings for SD; for Flux, the
        plain text (its pipelines encode CLIP and T5 themselves; no negative prompt without true CFG)."""
        if self.flux:
            return {"prompt": plain_prompt(prompt)[0], "max_sequence_length": flux_max_sequence(pipe)}
        return encode_prompts(pipe, prompt, negative, self.params.clip_skip).as_kwargs()

    def guidance(self, cfg_scale: float | None = None) -> dict[str, Any]:
        """Guidance arguments: CFG for SD (plus image guidance for instruct-pix2pix); Flux's distilled
        guidance (schnell's pipelines ignore it), CFG off."""
        if self.flux:
            return {"guidance_scale": self.params.distilled_cfg_scale}
        args: dict[str, Any] = {"guidance_scale": self.params.cfg_scale if cfg_scale is None else cfg_scale}
        if self.loaded.is_instruct_pix2pix:
            image_cfg = getattr(self.params, "image_cfg_scale", None)
            args["image_guidance_scale"] = DEFAULT_IMAGE_CFG_SCALE if image_cfg is None else image_cfg
        return args

    def call(self, pipe: Any, size: tuple[int, int], **arguments: Any) -> Any:
        """One pipeline call with progress, previews and skip; its images (or latents)."""
        callback = self.progress.callback(flux_unpacker(pipe, size) if self.flux else None)
        try:
            output = pipe(**arguments, callback_on_step_end=callback, callback_on_step_end_tensor_inputs=["latents"])
        except PassSkipped as skipped:
            if arguments.get("output_type") == "latent":
                return skipped.latents
            return decode_latents(pipe, skipped.latents, size, self.flux)
        return output.images

    # --- pipelines ------------------------------------------------------------------------------
    def _pipeline(self, plan: Plan) -> Any:
        if plan.controls is not None:
            pipe = self.loaded.controlnet_pipeline(plan.kind, plan.controls.model_argument(self.controlnets))
        else:
            pipe = self.loaded.variant(plan.kind)
        self.loaded.configure(pipe, self.params.sampler_name, self.vae)
        if plan.kind != "text2image" and isinstance(self.params, Image2ImageParams):
            scale_initial_noise(pipe.scheduler, self.params.initial_noise_multiplier)
        return pipe

    def _kind_arguments(self, plan: Plan) -> dict[str, Any]:
        width, height = self.size
        if self.loaded.is_instruct_pix2pix:
            # The init image conditions every step (no strength); SD's takes its size from the image.
            return {"image": plan.init, **({"width": width, "height": height} if self.loaded.is_xl else {})}
        args: dict[str, Any] = {}
        if plan.kind == "text2image":
            args.update(width=width, height=height)
        else:
            strength = getattr(self.params, "denoising_strength", 0.75)
            args.update(image=plan.init, strength=strength)
            if plan.kind == "inpaint" or self.flux:  # Flux's img2img makes its default size otherwise
                args.update(width=width, height=height)
            if plan.kind == "inpaint":
                args.update(mask_image=plan.mask)
        if plan.controls is not None:
            args.update(plan.controls.call_arguments(plan.kind))
        return args

    def _planned_steps(self, plan: Plan) -> int:
        params = self.params
        strength = 1.0
        if plan.kind != "text2image" and not self.loaded.is_instruct_pix2pix:
            strength = getattr(params, "denoising_strength", 1.0)
        per_pass = max(1, min(params.steps, int(params.steps * strength)))
        total = per_pass * params.n_iter
        if params.enable_hr and plan.kind == "text2image":
            total += self._hires_steps() * params.n_iter
        return total

    # --- hires fix ------------------------------------------------------------------------------
    def _hires_steps(self) -> int:
        params = self.params
        return max(1, int((params.hr_second_pass_steps or params.steps) * params.denoising_strength))

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
        return generation_size(target[0] - target[0] % 8, target[1] - target[1] % 8, self.flux)

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
            if self.flux:
                first = flux_unpacker(i2i, self.size)(first)  # Flux's img2img takes them unpacked
            upscaled: Any = torch.nn.functional.interpolate(
                first,
                size=(target[1] // factor, target[0] // factor),
                mode=mode,
                antialias="antialiased" in params.hr_upscaler and mode != "nearest",
            )
        else:
            upscaled = [self._upscale_image(image, target) for image in first]
        images: list[Image.Image] = self.call(
            i2i,
            target,
            **self.embeds,
            image=upscaled,
            strength=params.denoising_strength,
            num_inference_steps=params.hr_second_pass_steps or params.steps,
            **self.guidance(),
            num_images_per_prompt=params.batch_size,
            generator=seeded_generators(seeds),
            **({"width": target[0], "height": target[1]} if self.flux else {}),
        )
        return list(images)

    def _unrefined(self, pipe: Any, first: Any, latent: bool) -> list[Image.Image]:
        """A skipped first pass at the hires size, without the second pass."""
        images = decode_latents(pipe, first, self.size, self.flux) if latent else list(first)
        target = self.hires_size()
        return [image.resize(target, Image.Resampling.LANCZOS) for image in images]

    def _upscale_image(self, image: Image.Image, target: tuple[int, int]) -> Image.Image:
        if self.params.hr_upscaler == "Nearest":
            return image.resize(target, Image.Resampling.NEAREST)
        if self.resolved.upscaler is None:
            return image.resize(target, Image.Resampling.LANCZOS)
        upscaled, _method = self.upscalers.upscale(image, 0, self.resolved.upscaler, size=target)
        return upscaled


def infotext(
    params: Text2ImageParams,
    resolved: Resolved,
    seed: int,
    extra: dict[str, Any],
    size: tuple[int, int] | None = None,
) -> str:
    """The parameters line A1111 writes into its images (and reads back with "PNG Info"); Forge's
    names for Flux (CFG scale 1, Distilled CFG Scale), and notes on what ran differently."""
    width, height = size or (params.width, params.height)
    fields: dict[str, Any] = {
        "Steps": params.steps,
        "Sampler": ("Euler" if resolved.is_flux else params.sampler_name) or "model default",
        "CFG scale": params.cfg_scale,
        "Seed": seed,
        "Size": f"{width}x{height}",
        "Model hash": resolved.checkpoint.short_hash,
        "Model": resolved.checkpoint.stem,
        "VAE": resolved.vae.stem if resolved.vae else None,
        "Clip skip": params.clip_skip if params.clip_skip > 1 else None,
        "Denoising strength": getattr(params, "denoising_strength", None)
        if isinstance(params, Image2ImageParams) or params.enable_hr
        else None,
        **(_hires_fields(params) if params.enable_hr and not isinstance(params, Image2ImageParams) else {}),
        "Noise multiplier": params.initial_noise_multiplier
        if isinstance(params, Image2ImageParams)
        and params.initial_noise_multiplier != 1.0
        and not resolved.is_instruct_pix2pix
        else None,
        "Lora hashes": ", ".join(f"{u.entry.stem}: {u.entry.short_hash}" for u in resolved.loras if u.entry.short_hash)
        or None,
    }
    fields.update(resolved.infotext)
    fields.update(extra)
    fields["Version"] = f"imgopen {__version__}"
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
