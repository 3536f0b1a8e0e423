"""cnt/preview: what a ControlNet preprocessor makes of an image (the same registry the SD
controlnet endpoint uses for `module`), with the OpenPose JSON for the pose preprocessors."""

from __future__ import annotations

from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.pixels.cnt_preview_spec import (
    NAMES,
    CntPreviewParams,
    CntPreviewResult,
    CntPreviewSpec,
)
from imgopen.vision.preprocessors import AnnotatorModels, PreprocessSettings, preprocess

__all__ = ["NAMES", "CntPreviewParams", "CntPreviewResult", "CntPreviewTool"]


class CntPreviewTool(CntPreviewSpec, Tool[CntPreviewParams, CntPreviewResult]):
    def __init__(self, models: AnnotatorModels | None = None) -> None:
        self.models = models or AnnotatorModels()

    def run(self, params: CntPreviewParams, ctx: TaskContext) -> CntPreviewResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        settings = PreprocessSettings(
            params.processorRes, params.thresholdA, params.thresholdB, ctx.settings.models_dir, self.models
        )
        ctx.progress(0.05)
        control = preprocess(params.preprocessor, image, settings, ctx.settings.max_output_pixels, "processorRes")
        if control.pose is not None and not control.pose["people"]:
            raise ImgOpenError("422", f"sourceImage: no person found for {params.preprocessor}")
        key = ctx.save_image(control.image)
        return CntPreviewResult(
            method=control.method,
            outputImageUrl=key,
            outputImageUrls=[key],
            poseKeypoints=control.pose,
            width=control.image.width,
            height=control.image.height,
        )
