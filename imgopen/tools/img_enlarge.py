"""imgEnlarge: enlarge an image to a scale or a target size by high-quality resampling."""

from __future__ import annotations

from collections.abc import Mapping

from PIL import Image
from pydantic import Field, model_validator

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult


class ImgEnlargeParams(ToolParams):
    sourceImage: ImageInput
    scale: float | None = Field(
        None, ge=1, le=8, description="Enlargement factor, 1 to 8. Give either scale or a target size."
    )
    targetWidth: int | None = Field(
        None, ge=1, le=32768, description="Output width in pixels; alone, the height follows the aspect ratio."
    )
    targetHeight: int | None = Field(
        None, ge=1, le=32768, description="Output height in pixels; alone, the width follows the aspect ratio."
    )
    outputFormat: OutputFormat = Field("png", description="Encoding of the output: png, jpeg or webp.")

    @model_validator(mode="after")
    def _scale_or_target(self) -> ImgEnlargeParams:
        has_target = self.targetWidth is not None or self.targetHeight is not None
        if self.scale is None and not has_target:
            raise ValueError("give scale (1..8) or targetWidth / targetHeight")
        if self.scale is not None and has_target:
            raise ValueError("give either scale or targetWidth / targetHeight, not both")
        return self


class ImgEnlargeResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the enlarged image.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    width: int = Field(description="Output width in pixels.")
    height: int = Field(description="Output height in pixels.")


def output_size(width: int, height: int, params: ImgEnlargeParams) -> tuple[int, int]:
    if params.scale is not None:
        return max(1, round(width * params.scale)), max(1, round(height * params.scale))
    if params.targetWidth is not None and params.targetHeight is not None:
        return params.targetWidth, params.targetHeight
    if params.targetWidth is not None:
        return params.targetWidth, max(1, round(height * params.targetWidth / width))
    assert params.targetHeight is not None
    return max(1, round(width * params.targetHeight / height)), params.targetHeight


def resample(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Lanczos (a windowed sinc: sharp without ringing for photos); alpha is resized premultiplied
    so transparent pixels do not bleed their hidden colour into the edges."""
    if image.size == size:
        return image.copy()
    if image.mode in ("RGBA", "LA"):
        premultiplied = image.convert("RGBa" if image.mode == "RGBA" else "La")
        return premultiplied.resize(size, Image.Resampling.LANCZOS).convert(image.mode)
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


class ImgEnlargeTool(Tool[ImgEnlargeParams, ImgEnlargeResult]):
    code = "imgEnlarge"
    summary = "Image enlarge"
    description = "Enlarges an image by a scale (1..8) or to a target size with Lanczos resampling."
    params_model = ImgEnlargeParams
    result_model = ImgEnlargeResult

    def precheck(self, params: ImgEnlargeParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        width, height = sizes["sourceImage"]
        out_w, out_h = output_size(width, height, params)
        if out_w * out_h > settings.max_output_pixels:
            field = "scale" if params.scale is not None else "targetWidth/targetHeight"
            raise ImgOpenError(
                "400",
                f"{field}: the output would be {out_w}x{out_h} = {out_w * out_h / 1e6:.0f} megapixels, "
                f"over the limit of {settings.max_output_pixels / 1e6:g}",
            )

    def run(self, params: ImgEnlargeParams, ctx: TaskContext) -> ImgEnlargeResult:
        image = ctx.image(params.sourceImage, "sourceImage", mode=None)
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "RGB")
        self.precheck(params, {"sourceImage": image.size}, ctx.settings)
        size = output_size(image.width, image.height, params)
        ctx.progress(0.1)
        enlarged = resample(image, size)
        ctx.progress(0.8)
        key = ctx.save_image(enlarged, fmt=params.outputFormat)
        return ImgEnlargeResult(
            method="lanczos", outputImageUrl=key, outputImageUrls=[key], width=size[0], height=size[1]
        )
