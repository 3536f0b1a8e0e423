"""identifyStyle: which of a published list of styles an image is in, with a score for each."""

from __future__ import annotations

from PIL import Image

from imgopen.engine.cache import ModelCache
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.understanding.clip_scorer import ClipScorer
from imgopen.tools.understanding.identify_style_spec import (
    IdentifyStyleParams,
    IdentifyStyleResult,
    IdentifyStyleSpec,
    StyleScore,
)
from imgopen.vision import style_classifier
from imgopen.vision.styles import STYLE_NAMES, STYLES

__all__ = ["IdentifyStyleParams", "IdentifyStyleResult", "IdentifyStyleTool", "StyleScore", "style_scores"]

CLIP_METHOD = "clip-zero-shot"


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


class IdentifyStyleTool(IdentifyStyleSpec, Tool[IdentifyStyleParams, IdentifyStyleResult]):
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._clip = ClipScorer(cache)

    def run(self, params: IdentifyStyleParams, ctx: TaskContext) -> IdentifyStyleResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        ctx.progress(0.2)
        styles, method = style_scores(image, self._clip, ctx)
        return IdentifyStyleResult(method=method, style=styles[0].style, styles=styles)
