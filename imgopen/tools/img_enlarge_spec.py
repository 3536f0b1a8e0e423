"""imgEnlarge, the light half: params, result and the submit-time checks (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, model_validator

from imgopen.config import Settings
from imgopen.errors import ImgOpenError
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks, check_output_pixels
from imgopen.vision.upscale.names import LANCZOS


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
    # "lanczos" stays the default: existing clients keep the fast, exact-size behaviour they had.
    model: str = Field(
        "lanczos",
        min_length=1,
        max_length=200,
        description=(
            "'lanczos' (default): resampling only; 'auto': super resolution (realesr-animevideov3) for each whole "
            "x2/x3/x4 step and Lanczos for the rest (a scale under 2 is Lanczos alone); or an upscaler name as "
            "superResolution takes it ('realesrgan-x4plus', a file in models/upscale_models), used at least once."
        ),
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


def check_output_size(params: ImgEnlargeParams, size: tuple[int, int], settings: Settings) -> None:
    out_w, out_h = output_size(*size, params)
    if (out_w, out_h) == size:
        field = "scale" if params.scale is not None else "targetWidth/targetHeight"
        # The image would come back as it is: that is no enlargement to report as a success.
        raise ImgOpenError(
            "400", f"{field}: the output would be {out_w}x{out_h}, the size of the input; give a larger size"
        )
    field = "scale" if params.scale is not None else "targetWidth/targetHeight"
    check_output_pixels(field, out_w, out_h, settings)


class ImgEnlargeSpec(ToolSpec[ImgEnlargeParams, ImgEnlargeResult]):
    code = "imgEnlarge"
    summary = "Image enlarge"
    description = (
        "Enlarges an image by a scale (1..8) or to a target size: super resolution for the big steps and "
        "Lanczos resampling for the rest, or Lanczos alone."
    )
    params_model = ImgEnlargeParams
    result_model = ImgEnlargeResult

    def precheck(self, params: ImgEnlargeParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        check_output_size(params, sizes["sourceImage"], checks.settings)
        if params.model.strip().lower() != LANCZOS:
            checks.upscalers.check(params.model)
