"""codeformer, the light half: params, result and the submit-time checks (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from imgopen.config import Settings
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks, check_output_pixels
from imgopen.tools.faces.inputs import check_sizes
from imgopen.tools.faces.restore_backend import RestoreModel, choose_backend


class CodeFormerParams(ToolParams):
    sourceImage: ImageInput
    fidelityWeight: float = Field(
        0.5, ge=0, le=1, description="0 restores the most, 1 keeps the most of the original face (0..1)."
    )
    upscale: Literal[1, 2, 4] = Field(
        1, description="Enlarge the whole image 1, 2 or 4 times (Real-ESRGAN for the background)."
    )
    model: RestoreModel = Field(
        "auto",
        description=(
            "'codeformer' or 'gfpgan' (their ONNX files must be installed), or 'auto': CodeFormer, else GFPGAN, "
            "else Real-ESRGAN x4plus on the aligned face crops."
        ),
    )
    outputFormat: OutputFormat = Field("png", description="Encoding of the output: png, jpeg or webp.")


class CodeFormerResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the restored image.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    faceCount: int = Field(ge=1, description="How many faces were restored.")
    width: int = Field(description="Output width in pixels (the input's times upscale).")
    height: int = Field(description="Output height in pixels.")


def check_output_size(params: CodeFormerParams, size: tuple[int, int], settings: Settings) -> None:
    width, height = size
    check_output_pixels("upscale", width * params.upscale, height * params.upscale, settings)


class CodeFormerSpec(ToolSpec[CodeFormerParams, CodeFormerResult]):
    code = "codeformer"
    summary = "Face restoration"
    description = (
        "Restores every face (cropped, aligned, restored, pasted back with a soft mask): CodeFormer (S-Lab, "
        "non-commercial) or GFPGAN (Apache-2.0) ONNX when installed, else Real-ESRGAN x4plus on the aligned "
        "face crop blended by fidelityWeight. upscale enlarges the whole image with Real-ESRGAN."
    )
    params_model = CodeFormerParams
    result_model = CodeFormerResult

    def precheck(self, params: CodeFormerParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        check_sizes(sizes)
        check_output_size(params, sizes["sourceImage"], checks.settings)
        choose_backend(params.model, checks.settings.models_dir)  # "503" now if the named model is missing
