"""superResolution: Real-ESRGAN out of the box, or an installed upscaler named in `model`."""

from __future__ import annotations

from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.pixels.super_resolution_spec import (
    SuperResolutionParams,
    SuperResolutionResult,
    SuperResolutionSpec,
    check_output_size,
)
from imgopen.vision.upscale.service import Upscalers

__all__ = ["SuperResolutionParams", "SuperResolutionResult", "SuperResolutionTool"]


class SuperResolutionTool(SuperResolutionSpec, Tool[SuperResolutionParams, SuperResolutionResult]):
    def __init__(self, upscalers: Upscalers) -> None:
        self.upscalers = upscalers

    def run(self, params: SuperResolutionParams, ctx: TaskContext) -> SuperResolutionResult:
        image = ctx.image(params.sourceImage, "sourceImage", mode=None)
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
        check_output_size(params, image.size, ctx.settings)
        self.upscalers.check(params.model)
        ctx.progress(0.02)
        enlarged, method = self.upscalers.upscale(
            image, params.scale, params.model, progress=lambda f: ctx.progress(0.02 + 0.9 * f)
        )
        key = ctx.save_image(enlarged, fmt=params.outputFormat)
        return SuperResolutionResult(
            method=method, outputImageUrl=key, outputImageUrls=[key], width=enlarged.width, height=enlarged.height
        )
