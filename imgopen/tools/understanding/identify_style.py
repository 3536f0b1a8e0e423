"""identifyStyle: which of a published list of styles an image is in, with a score for each."""

from __future__ import annotations

from PIL import Image
from pydantic import BaseModel, Field

from imgopen.schemas.types import ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.understanding.clip_scorer import ClipScorer
from imgopen.vision import style_classifier
from imgopen.vision.style_classifier import STYLE_NAMES, STYLES

CLIP_METHOD = "clip-zero-shot"


class StyleScore(BaseModel):
    style: str = Field(description=f"A style from the published list: {', '.join(STYLE_NAMES)}.")
    score: float = Field(ge=0, le=1, description="How likely the image is in this style; the scores sum to 1.")


class IdentifyStyleParams(ToolParams):
    sourceImage: ImageInput


class IdentifyStyleResult(ToolResult):
    style: str = Field(description="The most likely style.")
    styles: list[StyleScore] = Field(description="Every style of the list with its score, most likely first.")


def style_scores(image: Image.Image, clip: ClipScorer, ctx: TaskContext) -> tuple[list[StyleScore], str]:
    """(scores best first, method): CLIP zero-shot when a CLIP model is installed, else statistics."""
    folder = clip.folder(ctx.settings.models_dir)
    if folder is None:
        pairs = style_classifier.classify(image)
        method = style_classifier.METHOD
    else:
        probabilities = clip.label_scores(folder, image, [style.clip_prompts for style in STYLES])
        pairs = sorted(zip(STYLE_NAMES, probabilities.tolist(), strict=True), key=lambda pair: -pair[1])
        method = CLIP_METHOD
    return [StyleScore(style=name, score=round(float(score), 4)) for name, score in pairs], method


class IdentifyStyleTool(Tool[IdentifyStyleParams, IdentifyStyleResult]):
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

    def __init__(self, clip: ClipScorer | None = None) -> None:
        self._clip = clip or ClipScorer()

    def run(self, params: IdentifyStyleParams, ctx: TaskContext) -> IdentifyStyleResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        ctx.progress(0.2)
        styles, method = style_scores(image, self._clip, ctx)
        return IdentifyStyleResult(method=method, style=styles[0].style, styles=styles)
