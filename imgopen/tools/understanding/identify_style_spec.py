"""identifyStyle, the light half: params and result (see tools/base.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from imgopen.schemas.types import ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.vision.styles import STYLE_NAMES


class StyleScore(BaseModel):
    style: str = Field(description=f"A style from the published list: {', '.join(STYLE_NAMES)}.")
    score: float = Field(ge=0, le=1, description="How likely the image is in this style; the scores sum to 1.")


class IdentifyStyleParams(ToolParams):
    sourceImage: ImageInput


class IdentifyStyleResult(ToolResult):
    style: str = Field(description="The most likely style.")
    styles: list[StyleScore] = Field(description="Every style of the list with its score, most likely first.")


class IdentifyStyleSpec(ToolSpec[IdentifyStyleParams, IdentifyStyleResult]):
    makes_images = False
    code = "identifyStyle"
    summary = "Style recognition"
    description = (
        f"Names the style of an image from a published list ({', '.join(STYLE_NAMES)}), with a score for "
        "each. With a CLIP model in models/clip/ the scores are CLIP zero-shot (method 'clip-zero-shot'); "
        "without one, a classifier over image statistics (method 'offline-statistics') that reliably tells "
        "photographs, black and white photographs, line art, sketches, pixel art and flat illustrations, "
        "and only hints at the painterly styles."
    )
    params_model = IdentifyStyleParams
    result_model = IdentifyStyleResult
