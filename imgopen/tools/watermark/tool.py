"""The watermark and watermark/decode tools."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, model_validator

from imgopen.config import Settings
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.watermark import invisible, visible


class WatermarkParams(ToolParams):
    sourceImage: ImageInput
    text: str | None = Field(None, min_length=1, max_length=200, description="Visible text to draw.")
    watermarkImage: ImageInput | None = Field(
        None, description="Visible image to draw (a logo; its transparency is kept)."
    )
    position: visible.Position = Field(
        "bottomRight", description="Where the visible mark goes: one of nine places, or 'tile' to repeat it."
    )
    opacity: float = Field(0.5, gt=0, le=1, description="Opacity of the visible mark, above 0 and up to 1.")
    fontSize: int | None = Field(
        None, ge=4, le=1000, description="Text height in pixels; default 5% of the image's shorter side."
    )
    fontColor: str = Field("#FFFFFF", max_length=32, description="Text colour: #RRGGBB or a CSS colour name.")
    imageScale: float = Field(
        0.2, gt=0, le=1, description="Width of the watermark image relative to the source image's width."
    )
    margin: int | None = Field(
        None, ge=0, le=10000, description="Distance from the edges in pixels; default 2% of the shorter side."
    )
    invisibleText: str | None = Field(
        None,
        min_length=1,
        max_length=invisible.MAX_TEXT_BYTES,
        description=(
            f"Text hidden in the image (dwtDctSvd) that survives JPEG quality 85: up to "
            f"{invisible.MAX_TEXT_BYTES} bytes of UTF-8 on a 512x512 image, fewer on smaller ones (about "
            "300x300 at least). Read it back with watermark/decode."
        ),
    )
    outputFormat: OutputFormat = Field("png", description="Encoding of the output: png, jpeg or webp.")

    @model_validator(mode="after")
    def _something_to_add(self) -> WatermarkParams:
        if not (self.text or self.watermarkImage or self.invisibleText):
            raise ValueError("give text, watermarkImage or invisibleText")
        try:
            visible.parse_color(self.fontColor)
        except ValueError as exc:
            raise ValueError(f"fontColor: {exc}") from exc
        return self


class WatermarkResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the watermarked image.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    width: int = Field(description="Width in pixels.")
    height: int = Field(description="Height in pixels.")


class WatermarkTool(Tool[WatermarkParams, WatermarkResult]):
    code = "watermark"
    summary = "Image watermark"
    description = "Adds a visible text or image mark, and/or an invisible text mark that survives JPEG."
    params_model = WatermarkParams
    result_model = WatermarkResult

    def precheck(self, params: WatermarkParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        if params.invisibleText:
            invisible.check_text(params.invisibleText, *sizes["sourceImage"])

    def run(self, params: WatermarkParams, ctx: TaskContext) -> WatermarkResult:
        image = ctx.image(params.sourceImage, "sourceImage", mode=None)
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
        short = min(image.size)
        margin = params.margin if params.margin is not None else max(2, round(short * 0.02))
        methods: list[str] = []
        if params.watermarkImage:
            logo = ctx.image(params.watermarkImage, "watermarkImage", mode="RGBA")
            mark = visible.scale_mark(logo, image.width, params.imageScale)
            image = visible.apply(image, mark, params.position, params.opacity, margin)
            methods.append("visible-image")
        if params.text:
            size = params.fontSize or max(8, round(short * 0.05))
            mark = visible.render_text(params.text, size, visible.parse_color(params.fontColor))
            image = visible.apply(image, mark, params.position, params.opacity, margin)
            methods.append("visible-text")
        ctx.progress(0.5)
        if params.invisibleText:
            alpha = image.getchannel("A") if image.mode == "RGBA" else None
            image = invisible.embed(image, params.invisibleText)
            if alpha is not None:
                image.putalpha(alpha)
            methods.append(invisible.METHOD)
        key = ctx.save_image(image, fmt=params.outputFormat)
        return WatermarkResult(
            method="+".join(methods), outputImageUrl=key, outputImageUrls=[key], width=image.width, height=image.height
        )


class WatermarkDecodeParams(ToolParams):
    sourceImage: ImageInput


class WatermarkDecodeResult(ToolResult):
    invisibleText: str | None = Field(description="The hidden text, or null when none was found.")
    found: bool = Field(description="Whether a mark with a valid checksum was found.")


class WatermarkDecodeTool(Tool[WatermarkDecodeParams, WatermarkDecodeResult]):
    code = "watermark/decode"
    summary = "Read an invisible watermark"
    description = "Reads back the text that watermark's invisibleText hid in an image."
    params_model = WatermarkDecodeParams
    result_model = WatermarkDecodeResult

    def run(self, params: WatermarkDecodeParams, ctx: TaskContext) -> WatermarkDecodeResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        text = invisible.extract(image)
        return WatermarkDecodeResult(method=invisible.METHOD, invisibleText=text, found=text is not None)
