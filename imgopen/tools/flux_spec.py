"""comfyui/text2image, the light half: params, result, which installed model a task type runs, and
the submit-time check that there is one (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from imgopen.catalog.catalog import ModelCatalog, ModelEntry
from imgopen.catalog.detect import FLUX_FAMILIES
from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.schemas.types import FileKey
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks

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


def flux_model(task_type: str, catalog: ModelCatalog, settings: Settings) -> ModelEntry:
    """The configured model for the task type, else the first installed one of its variant."""
    configured = settings.flux_models.get(task_type)
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


class FluxSpec(ToolSpec[FluxParams, FluxResult]):
    code = "comfyui/text2image"
    summary = "Flux text to image"
    description = "FLUX.1 dev or schnell text-to-image with the models installed in the checkpoints folder."
    pool = "gpu"
    params_model = FluxParams
    result_model = FluxResult

    def precheck(self, params: FluxParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        flux_model(params.comfyTaskType, checks.catalog, checks.settings)  # "503" at submit when none is installed
