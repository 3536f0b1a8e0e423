"""erase, the light half: params, result and the submit-time checks (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.pixels import masks
from imgopen.tools.pixels.sd_checkpoint import require_checkpoint
from imgopen.tools.pixels.weights import LAMA


class EraseParams(ToolParams):
    sourceImage: ImageInput
    maskImage: ImageInput = Field(
        description=(
            "White (or, on a transparent layer, opaque) where to remove. Same size as sourceImage, or the same "
            "aspect ratio (scaled to fit)."
        )
    )
    model: Literal["auto", "classical", "lama", "sd"] = Field(
        "auto",
        description=(
            "'auto': LaMa when installed (models/inpaint/lama.onnx or big-lama.pt), else 'classical' (OpenCV FSR "
            "inpainting); 'sd': Stable Diffusion inpainting with the default checkpoint (slow on a CPU)."
        ),
    )
    maskDilation: int | None = Field(
        None, ge=0, le=64, description="Pixels the mask grows by; default 0.8% of the shorter side (at least 3)."
    )
    prompt: str = Field(
        "", max_length=1000, description="For 'sd' only: what to paint instead (default: the background)."
    )
    seed: int = Field(-1, ge=-1, le=2**32 - 1, description="For 'sd' only: the seed; -1 picks one.")
    outputFormat: OutputFormat = Field("png", description="Encoding of the output: png, jpeg or webp.")


class EraseResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the image with the masked area removed.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    width: int = Field(description="Width in pixels (the source's).")
    height: int = Field(description="Height in pixels (the source's).")


class EraseSpec(ToolSpec[EraseParams, EraseResult]):
    code = "erase"
    summary = "Object removal"
    description = (
        "Removes what the white area of maskImage covers and rebuilds the background there: LaMa when installed, "
        "OpenCV FSR inpainting out of the box, or Stable Diffusion inpainting on request."
    )
    params_model = EraseParams
    result_model = EraseResult

    def precheck(self, params: EraseParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        masks.check_size(sizes["maskImage"], sizes["sourceImage"])
        if params.model == "lama":
            LAMA.require(checks.settings.models_dir)
        if params.model == "sd":
            require_checkpoint(checks)
