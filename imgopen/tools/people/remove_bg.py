"""removeBg: cut the subject out as a transparent PNG, a mask, or over a colour.

People out of the box (MediaPipe selfie segmentation, its edges aligned with the photograph's by a
guided filter); any object with an installed matting network (U²-Net, ISNet, BiRefNet in
models/rembg/)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import Field, field_validator

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.onnx_sessions import OnnxSessions
from imgopen.tools.people.colors import parse_css_color
from imgopen.tools.people.matting_models import MODEL_NAMES, MODELS, MattingModel, installed, missing_message
from imgopen.tools.people.person_check import PersonCheck
from imgopen.vision.matting import drop_specks, estimate_foreground, refine_alpha
from imgopen.vision.saliency import run_saliency
from imgopen.vision.segmentation import PersonSegmenter

PERSON = "person"
PERSON_METHOD = "mediapipe-selfie-segmentation+guided-filter"
MODEL_CHOICES = ("auto", PERSON, *MODEL_NAMES)
# The border margin for the selfie model (see PersonSegmenter.probability).
SEGMENTATION_MARGIN = 1 / 16


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
    maskUrl: FileKey = Field(description="The mask as a single-channel PNG: white = subject, grey = partly.")


class RemoveBgTool(Tool[RemoveBgParams, RemoveBgResult]):
    code = "removeBg"
    summary = "Background removal"
    description = (
        "Cuts out people with MediaPipe selfie segmentation refined at the edges (no download), or any object with "
        "an installed matting model (U²-Net, ISNet or BiRefNet .onnx in models/rembg). Output: transparent PNG, "
        "mask, or the subject over a colour."
    )
    params_model = RemoveBgParams
    result_model = RemoveBgResult

    def __init__(self) -> None:
        self._segmenter = PersonSegmenter()
        self._person_check = PersonCheck()
        self._sessions = OnnxSessions()
        # One helper thread: the segmenter runs while the person check does (MediaPipe and PNG
        # encoding release the GIL), and the mask is stored while the cut-out is composed.
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="removeBg")

    def choose(self, name: str, models_dir: Path) -> tuple[MattingModel, Path] | None:
        """The matting model to run (None: people segmentation); "503" for a named one not installed."""
        if name == PERSON:
            return None
        if name == "auto":
            general = [(model, path) for model, path in installed(models_dir) if model.general]
            return general[0] if general else None
        model = MODELS[name]
        return model, model.weights.require(models_dir)

    def precheck(self, params: RemoveBgParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        self.choose(params.model, settings.models_dir)

    def run(self, params: RemoveBgParams, ctx: TaskContext) -> RemoveBgResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        rgb = np.asarray(image)
        chosen = self.choose(params.model, ctx.settings.models_dir)
        if chosen is None:
            alpha, method = self.person_alpha(image, rgb, ctx.settings.models_dir), PERSON_METHOD
        else:
            model, path = chosen
            alpha, method = run_saliency(self._sessions.get(path), model.net, image), f"onnx:{model.net.name}"
        if float(alpha.max()) < 0.5:
            raise ImgOpenError("422", "sourceImage: no subject found to cut out (the whole image reads as background)")
        ctx.progress(0.6)
        # alpha is 0..1, so + 0.5 and truncation round it (faster than np.round at full size).
        mask = Image.fromarray((alpha * 255 + 0.5).astype(np.uint8), "L")
        stored_mask = self._helper.submit(ctx.save_image, mask, "mask")
        if params.outputMode == "mask":
            mask_key = stored_mask.result()
            return RemoveBgResult(method=method, outputImageUrl=mask_key, maskUrl=mask_key)
        # Edge pixels recoloured without the old background in them, for either kind of output.
        foreground = estimate_foreground(rgb, alpha)
        if params.outputMode == "transparent":
            levels = np.asarray(mask)
            # Hidden colour under full transparency means nothing; black there halves the PNG's
            # encoding time and shrinks the file by a third (measured on the astronaut).
            foreground[levels == 0] = 0
            output = Image.fromarray(foreground, "RGB")
            output.putalpha(mask)
        else:
            # By the stored mask's own levels, so the mask and the composite agree pixel for pixel.
            levels = np.asarray(mask, np.float32) * np.float32(1 / 255)
            output = Image.fromarray(composite(foreground, levels, parse_css_color(params.backgroundColor)), "RGB")
        key = ctx.save_image(output, name="cutout")
        return RemoveBgResult(method=method, outputImageUrl=key, maskUrl=stored_mask.result())

    def person_alpha(self, image: Image.Image, rgb: NDArray[np.uint8], models_dir: Path) -> NDArray[np.float32]:
        segmented = self._helper.submit(self._segmenter.probability, image, False, SEGMENTATION_MARGIN)
        # The selfie model also "finds" people in cups and cats; a face or a body pose must confirm one.
        found = self._person_check.has_person(image)
        probability = segmented.result()
        if not found:
            raise ImgOpenError(
                "422", f"sourceImage: no person found; to cut out other objects, {missing_message(models_dir)}"
            )
        return drop_specks(refine_alpha(rgb, probability))


def composite(
    foreground: NDArray[np.uint8], alpha: NDArray[np.float32], color: tuple[int, int, int]
) -> NDArray[np.uint8]:
    """foreground over a flat colour, by alpha."""
    a = alpha[..., None]
    background = np.asarray(color, np.float32)
    blended = foreground.astype(np.float32) * a + background * (1.0 - a)
    return np.asarray(np.clip(np.round(blended), 0, 255), np.uint8)
