"""comfyui/text2image: Flux text-to-image, `comfyTaskType` mapped to an installed FLUX.1 model."""

from __future__ import annotations

import secrets

import torch

from imgopen.engine.progress import StepProgress
from imgopen.engine.service import DiffusionEngine
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.flux_spec import DEFAULT_STEPS, TASK_TYPES, FluxParams, FluxResult, FluxSpec, flux_model

__all__ = ["FluxParams", "FluxResult", "FluxTool"]


class FluxTool(FluxSpec, Tool[FluxParams, FluxResult]):
    def __init__(self, engine: DiffusionEngine) -> None:
        self._engine = engine

    def run(self, params: FluxParams, ctx: TaskContext) -> FluxResult:
        entry = flux_model(params.comfyTaskType, self._engine.catalog, self._engine.settings)
        seed = params.seed if params.seed >= 0 else secrets.randbelow(2**32 - 1)
        steps = params.steps or DEFAULT_STEPS[TASK_TYPES[params.comfyTaskType]]
        width, height = params.width - params.width % 16, params.height - params.height % 16

        def generate() -> FluxResult:
            with self._engine.checkpoint(entry) as loaded:
                pipe = loaded.pipe
                loaded.configure(pipe, None, None)
                progress = StepProgress(ctx, steps, entry.base_model, (width, height))
                factor = pipe.vae_scale_factor

                def unpack(latents: torch.Tensor) -> torch.Tensor:
                    unpacked: torch.Tensor = pipe._unpack_latents(latents, height, width, factor)
                    return unpacked

                extra = {"guidance_scale": params.fluxGuidance} if entry.base_model == "Flux.1 D" else {}
                output = pipe(
                    prompt=params.prompt,
                    width=width,
                    height=height,
                    num_inference_steps=steps,
                    generator=torch.Generator("cpu").manual_seed(seed),
                    max_sequence_length=_max_sequence(pipe),
                    callback_on_step_end=progress.callback(unpack),
                    callback_on_step_end_tensor_inputs=["latents"],
                    **extra,
                )
                text = f"{params.prompt}\nModel: {entry.stem}, Steps: {steps}, Seed: {seed}, Size: {width}x{height}"
                if extra:
                    text += f", Guidance: {params.fluxGuidance}"
                key = ctx.save_image(output.images[0], parameters=text)
                return FluxResult(
                    method="diffusers:FluxPipeline",
                    outputImageUrl=key,
                    outputImageUrls=[key],
                    seed=seed,
                    model=entry.name,
                )

        return self._engine.with_memory_retry(generate, f"flux {width}x{height}")


def _max_sequence(pipe: object) -> int:
    """T5 context: 512 tokens (dev's maximum), less when the tokenizer is shorter."""
    tokenizer = getattr(pipe, "tokenizer_2", None)
    return int(min(512, getattr(tokenizer, "model_max_length", 512) or 512))
