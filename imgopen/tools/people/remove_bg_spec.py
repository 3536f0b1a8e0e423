"""removeBg, the light half: params, result, which matting model a request runs, and the
submit-time check that it is installed (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.people.colors import parse_css_color
from imgopen.tools.people.matting_models import MODEL_NAMES, MODELS, MattingModel, installed

PERSON = "person"
MODEL_CHOICES = ("auto", PERSON, *MODEL_NAMES)


class RemoveBgParams(ToolParams):
    sourceImage: ImageInput
    outputMode: Literal["transparent", "mask", "color"] = Field(
        "transparent",
        description=(
            "transparent: a PNG whose background is transparent (RGBA); mask: the mask alone (white = kept, "
            "single channel); color: the subject over backgroundColor."
        ),
    )
    backgroundColor: str = Field(
        "#FFFFFF",
        min_length=1,
        max_length=64,
        description="The new background in color mode: a CSS colour name (white, navy...), #RGB or #RRGGBB.",
    )
    model: str = Field(
        "auto",
        description=(
            "auto: an installed matting model if there is one (any object), else people segmentation; person: "
            "people segmentation (MediaPipe, always available); or a matting model by name (its .onnx file in "
            "models/rembg): " + ", ".join(MODEL_NAMES) + "."
        ),
        json_schema_extra={"enum": list(MODEL_CHOICES)},
    )

    @field_validator("backgroundColor")
    @classmethod
    def _colour(cls, value: str) -> str:
        parse_css_color(value)
        return value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODEL_CHOICES:
            raise ValueError(f"{value!r} is not a model; use one of {', '.join(MODEL_CHOICES)}")
        return value


class RemoveBgResult(ToolResult):
    outputImageUrl: FileKey = Field(
        description="The cut-out: an RGBA PNG (transparent), the mask (mask) or an RGB PNG (color)."
    )
    outputImageUrls: list[FileKey] = Field(description="The same image, as a list.")
    maskUrl: FileKey = Field(description="The mask as a single-channel PNG: white = subject, grey = partly.")


def choose_model(name: str, models_dir: Path) -> tuple[MattingModel, Path] | None:
    """The matting model to run (None: people segmentation); "503" for a named one not installed."""
    if name == PERSON:
        return None
    if name == "auto":
        general = [(model, path) for model, path in installed(models_dir) if model.general]
        return general[0] if general else None
    model = MODELS[name]
    return model, model.weights.require(models_dir)


class RemoveBgSpec(ToolSpec[RemoveBgParams, RemoveBgResult]):
    code = "removeBg"
    summary = "Background removal"
    description = (
        "Cuts out people with MediaPipe selfie segmentation refined at the edges (no download), or any object with "
        "an installed matting model (U²-Net, ISNet or BiRefNet .onnx in models/rembg). Output: transparent PNG, "
        "mask, or the subject over a colour."
    )
    params_model = RemoveBgParams
    result_model = RemoveBgResult

    def precheck(self, params: RemoveBgParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        choose_model(params.model, checks.settings.models_dir)
