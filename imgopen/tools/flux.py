"""comfyui/text2image: Flux text-to-image, `comfyTaskType` mapped to an installed FLUX.1 model."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Literal

import torch
from pydantic import Field

from imgopen.catalog.catalog import ModelEntry
from imgopen.config import Settings
from imgopen.engine.loader import FLUX_FAMILIES
from imgopen.engine.progress import StepProgress
from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.schemas.types import FileKey
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult

# comfyTaskType -> the FLUX.1 variant it asks for (the hosted API's fp8 names; precision here is
# the machine's choice).
TASK_TYPES: dict[str, str] = {"Flux1DevFP8": "Flux.1 D", "Flux1SchnellFP8": "Flux.1 S"}
DEFAULT_STEPS = {"Flux.1 D": 20, "Flux.1 S": 4}


class FluxParams(ToolParams):
    comfyTaskType: Literal["Flux1DevFP8", "Flux1SchnellFP8"] = Field(
        "Flux1DevFP8", description="Flux1DevFP8 (FLUX.1 dev) or Flux1SchnellFP8 (FLUX.1 schnell)."
    )
    prompt: str = Field(min_length=1, max_length=20000, description="What to draw (plain text).")
    width: int = Field(1024, ge=64, le=2048, description="Width in pixels (rounded down to a multiple of 16).")
    height: int = Field(1024, ge=64, le=2048, description="Height in pixels (rounded down to a multiple of 16).")
    steps: int | None = Field(None, ge=1, le=100, description="Sampling steps; default 20 for dev, 4 for schnell.")
    fluxGuidance: float = Field(3.5, ge=0, le=30, description="Distilled guidance (dev); schnell ignores it.")
    seed: int = Field(-1, ge=-1, le=2**32 - 1, description="Seed; -1 random.")


class FluxResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the image.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    seed: int = Field(description="The seed used.")
    model: str = Field(description="The Flux model that ran.")


class FluxTool(Tool[FluxParams, FluxResult]):
    code = "comfyui/text2image"
    summary = "Flux text to image"
    description = "FLUX.1 dev or schnell text-to-image with the models installed in the checkpoints folder."
    pool = "gpu"
    params_model = FluxParams
    result_model = FluxResult

    def __init__(self, engine: DiffusionEngine) -> None:
        self._engine = engine

    def model_for(self, task_type: str) -> ModelEntry:
        """The configured model for the task type, else the first installed one of its variant."""
        catalog = self._engine.catalog
        configured = self._engine.settings.flux_models.get(task_type)
        if configured:
            return catalog.require("checkpoint", configured, f"IMGOPEN_FLUX_MODELS[{task_type}]")
        variant = TASK_TYPES[task_type]
        installed = [e for e in catalog.entries("checkpoint") if e.base_model == variant]
        if not installed:
            others = [e.name for e in catalog.entries("checkpoint") if e.base_model in FLUX_FAMILIES]
            hint = f" (installed Flux models: {', '.join(others)}; map one with IMGOPEN_FLUX_MODELS)" if others else ""
            raise ImgOpenError(
                "503",
                f"comfyTaskType {task_type} needs a {variant} model: put a FLUX.1 diffusers folder into "
                f"{catalog.models_dir / 'checkpoints'}{hint}",
            )
        return sorted(installed, key=lambda e: (not e.is_folder, e.name))[0]

    def precheck(self, params: FluxParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        self.model_for(params.comfyTaskType)  # "503" at submit when no such model is installed

    def run(self, params: FluxParams, ctx: TaskContext) -> FluxResult:
        entry = self.model_for(params.comfyTaskType)
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
