"""imgExpand, the light half: params, result and the submit-time checks (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from imgopen.config import Settings
from imgopen.engine.samplers import resolve_sampler
from imgopen.errors import ImgOpenError
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks, check_output_pixels
from imgopen.tools.pixels.sd_checkpoint import require_checkpoint


class ImgExpandParams(ToolParams):
    sourceImage: ImageInput
    prompt: str = Field("", max_length=2000, description="What the new area shows (SD only).")
    negativePrompt: str = Field("", max_length=2000, description="What it must not show (SD only).")
    sampleStep: int = Field(20, ge=1, le=150, description="Denoising steps (SD only).")
    sampler: str | None = Field(
        None, max_length=100, description="An A1111 sampler name, e.g. 'Euler a' or 'DPM++ 2M Karras' (SD only)."
    )
    imageCount: int = Field(ge=1, le=4, description="How many images to make, 1 to 4.")
    promptGuideFactor: float = Field(7.0, ge=1, le=30, description="Classifier-free guidance scale (SD only).")
    seed: int = Field(-1, ge=-1, le=2**32 - 1, description="Seed of the first image (the next ones +1); -1 random.")
    verticalExpansionRatio: float = Field(ge=1, le=4, description="New height / old height, 1 to 4.")
    horizontalExpansionRatio: float = Field(ge=1, le=4, description="New width / old width, 1 to 4.")
    model: Literal["auto", "classical", "sd"] = Field(
        "auto",
        description="'auto': SD inpainting when a checkpoint is installed, else 'classical' (mirror, blur, grain).",
    )
    outputFormat: OutputFormat = Field("png", description="Encoding of the outputs: png, jpeg or webp.")


class ImgExpandResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the first image.")
    outputImageUrls: list[FileKey] = Field(description="URLs of all images.")
    width: int = Field(description="Output width in pixels.")
    height: int = Field(description="Output height in pixels.")
    seeds: list[int] = Field(description="The seed of each image.")


def canvas_size(width: int, height: int, params: ImgExpandParams) -> tuple[int, int]:
    return round(width * params.horizontalExpansionRatio), round(height * params.verticalExpansionRatio)


def check_request(params: ImgExpandParams, size: tuple[int, int], settings: Settings) -> None:
    """The canvas grows and stays within the pixel limit, and the sampler exists."""
    width, height = size
    new_w, new_h = canvas_size(width, height, params)
    if (new_w, new_h) == (width, height):
        raise ImgOpenError(
            "400",
            "verticalExpansionRatio/horizontalExpansionRatio: the canvas would not grow; give a ratio above 1",
        )
    check_output_pixels("verticalExpansionRatio/horizontalExpansionRatio", new_w, new_h, settings)
    resolve_sampler(params.sampler, "sampler")


class ImgExpandSpec(ToolSpec[ImgExpandParams, ImgExpandResult]):
    code = "imgExpand"
    summary = "Outpainting"
    description = (
        "Grows the canvas by the two ratios with the image in the centre, and paints the new area: Stable "
        "Diffusion inpainting when a checkpoint is installed, else a classical mirrored and blurred extension."
    )
    params_model = ImgExpandParams
    result_model = ImgExpandResult

    def precheck(self, params: ImgExpandParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        check_request(params, sizes["sourceImage"], checks.settings)
        if params.model == "sd":
            require_checkpoint(checks)
