"""watermark and watermark/decode, the light half: params, results and the submit-time checks (see
tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, model_validator

from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.watermark import visible
from imgopen.tools.watermark.capacity import MAX_TEXT_BYTES, check_text


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
        max_length=MAX_TEXT_BYTES,
        description=(
            f"Text hidden in the image (dwtDctSvd) that survives JPEG quality 85: up to "
            f"{MAX_TEXT_BYTES} bytes of UTF-8 on a 512x512 image, fewer on smaller ones (about "
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


class WatermarkSpec(ToolSpec[WatermarkParams, WatermarkResult]):
    code = "watermark"
    summary = "Image watermark"
    description = "Adds a visible text or image mark, and/or an invisible text mark that survives JPEG."
    params_model = WatermarkParams
    result_model = WatermarkResult

    def precheck(self, params: WatermarkParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        if params.invisibleText:
            check_text(params.invisibleText, *sizes["sourceImage"])


class WatermarkDecodeParams(ToolParams):
    sourceImage: ImageInput


class WatermarkDecodeResult(ToolResult):
    invisibleText: str | None = Field(description="The hidden text, or null when none was found.")
    found: bool = Field(description="Whether a mark with a valid checksum was found.")


class WatermarkDecodeSpec(ToolSpec[WatermarkDecodeParams, WatermarkDecodeResult]):
    makes_images = False
    code = "watermark/decode"
    summary = "Read an invisible watermark"
    description = "Reads back the text that watermark's invisibleText hid in an image."
    params_model = WatermarkDecodeParams
    result_model = WatermarkDecodeResult
