"""superResolution, the light half: params, result and the submit-time checks (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from imgopen.config import Settings
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks, check_output_pixels


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


def check_output_size(params: SuperResolutionParams, size: tuple[int, int], settings: Settings) -> None:
    width, height = size
    check_output_pixels("scale", width * params.scale, height * params.scale, settings)


class SuperResolutionSpec(ToolSpec[SuperResolutionParams, SuperResolutionResult]):
    code = "superResolution"
    summary = "Super resolution"
    description = (
        "Enlarges an image 2 or 4 times with a super-resolution network (Real-ESRGAN, run in tiles so any size "
        "fits in memory), or with an upscaler installed in models/upscale_models."
    )
    params_model = SuperResolutionParams
    result_model = SuperResolutionResult

    def precheck(
        self, params: SuperResolutionParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks
    ) -> None:
        check_output_size(params, sizes["sourceImage"], checks.settings)
        checks.upscalers.check(params.model)
