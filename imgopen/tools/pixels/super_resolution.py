"""superResolution: Real-ESRGAN out of the box, or an installed upscaler named in `model`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.vision.upscale import Upscalers


class SuperResolutionParams(ToolParams):
    sourceImage: ImageInput
    scale: Literal[2, 4] = Field(2, description="Enlargement factor: 2 or 4.")
    model: str = Field(
        "auto",
        min_length=1,
        max_length=200,
        description=(
            "'auto' (realesr-animevideov3: fast, faithful), 'realesrgan-x4plus' (a GAN that invents photo texture; "
            "much slower on a CPU), 'realesrgan-x4plus-anime', 'lanczos', or the file name of an upscaler installed "
            "in models/upscale_models (ESRGAN / Real-ESRGAN .pth or .safetensors, or ONNX)."
        ),
    )
    outputFormat: OutputFormat = Field("png", description="Encoding of the output: png, jpeg or webp.")


class SuperResolutionResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the enlarged image.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    width: int = Field(description="Output width in pixels.")
    height: int = Field(description="Output height in pixels.")


class SuperResolutionTool(Tool[SuperResolutionParams, SuperResolutionResult]):
    code = "superResolution"
    summary = "Super resolution"
    description = (
        "Enlarges an image 2 or 4 times with a super-resolution network (Real-ESRGAN, run in tiles so any size "
        "fits in memory), or with an upscaler installed in models/upscale_models."
    )
    params_model = SuperResolutionParams
    result_model = SuperResolutionResult

    def __init__(self, upscalers: Upscalers) -> None:
        self.upscalers = upscalers

    def precheck(self, params: SuperResolutionParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        width, height = sizes["sourceImage"]
        pixels = width * params.scale * height * params.scale
        if pixels > settings.max_output_pixels:
            raise ImgOpenError(
                "400",
                f"scale: the output would be {width * params.scale}x{height * params.scale} = {pixels / 1e6:.0f} "
                f"megapixels, over the limit of {settings.max_output_pixels / 1e6:g}",
            )
        self.upscalers.check(params.model)

    def run(self, params: SuperResolutionParams, ctx: TaskContext) -> SuperResolutionResult:
        image = ctx.image(params.sourceImage, "sourceImage", mode=None)
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
        self.precheck(params, {"sourceImage": image.size}, ctx.settings)
        ctx.progress(0.02)
        enlarged, method = self.upscalers.upscale(
            image, params.scale, params.model, progress=lambda f: ctx.progress(0.02 + 0.9 * f)
        )
        key = ctx.save_image(enlarged, fmt=params.outputFormat)
        return SuperResolutionResult(
            method=method, outputImageUrl=key, outputImageUrls=[key], width=enlarged.width, height=enlarged.height
        )
