"""imgEnlarge: enlarge an image to a scale or a target size. "lanczos" (the default) resamples only;
"auto" takes the big steps (x2, x3, x4) with super resolution and the rest with Lanczos."""

from __future__ import annotations

from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.img_enlarge_spec import (
    ImgEnlargeParams,
    ImgEnlargeResult,
    ImgEnlargeSpec,
    check_output_size,
    output_size,
)
from imgopen.vision.upscale.names import LANCZOS
from imgopen.vision.upscale.resample import resample
from imgopen.vision.upscale.service import Upscalers

__all__ = ["ImgEnlargeParams", "ImgEnlargeResult", "ImgEnlargeTool", "output_size", "resample"]


class ImgEnlargeTool(ImgEnlargeSpec, Tool[ImgEnlargeParams, ImgEnlargeResult]):
    def __init__(self, upscalers: Upscalers) -> None:
        self._upscalers = upscalers

    def run(self, params: ImgEnlargeParams, ctx: TaskContext) -> ImgEnlargeResult:
        image = ctx.image(params.sourceImage, "sourceImage", mode=None)
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "RGB")
        check_output_size(params, image.size, ctx.settings)
        if params.model.strip().lower() != LANCZOS:
            self._upscalers.check(params.model)
        size = output_size(image.width, image.height, params)
        ctx.progress(0.05)
        if params.model.strip().lower() == LANCZOS:
            enlarged, method = resample(image, size), LANCZOS
        else:
            scale = min(size[0] / image.width, size[1] / image.height)
            enlarged, method = self._upscalers.upscale(
                image, scale, params.model, size=size, progress=lambda f: ctx.progress(0.05 + 0.85 * f)
            )
        ctx.progress(0.9)
        key = ctx.save_image(enlarged, fmt=params.outputFormat)
        return ImgEnlargeResult(method=method, outputImageUrl=key, outputImageUrls=[key], width=size[0], height=size[1])
