"""erase: object removal. The white area of maskImage (dilated a little, to take the object's soft
edge and fringe along) is rebuilt from its surroundings: by LaMa when installed, else by OpenCV's
FSR inpainting; by SD inpainting when the caller asks for it and a checkpoint is installed.

A mask at another resolution but the image's aspect ratio (drawn on a preview) is scaled to fit;
one of another shape answers "400" at submit. An empty mask fails the task with "400"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import Field

from imgopen.config import Settings
from imgopen.engine.inpaint import InpaintJob
from imgopen.engine.service import DiffusionEngine
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.pixels import classical_inpaint, lama, masks, sd_paint


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


class EraseTool(Tool[EraseParams, EraseResult]):
    code = "erase"
    summary = "Object removal"
    description = (
        "Removes what the white area of maskImage covers and rebuilds the background there: LaMa when installed, "
        "OpenCV FSR inpainting out of the box, or Stable Diffusion inpainting on request."
    )
    params_model = EraseParams
    result_model = EraseResult

    def __init__(self, engine: DiffusionEngine | None = None) -> None:
        self.engine = engine
        self.lama = lama.Lama()

    def precheck(self, params: EraseParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        masks.check_size(sizes["maskImage"], sizes["sourceImage"])
        if params.model == "lama":
            lama.WEIGHTS.require(settings.models_dir)
        if params.model == "sd":
            sd_paint.require_engine(self.engine)

    def run(self, params: EraseParams, ctx: TaskContext) -> EraseResult:
        source = ctx.image(params.sourceImage, "sourceImage", mode=None)
        alpha = source.getchannel("A") if source.mode in ("RGBA", "LA") else None
        image = source.convert("RGB")
        raw_mask = ctx.image(params.maskImage, "maskImage", mode=None)
        hole = masks.checked(masks.to_binary(raw_mask, image.size))
        dilation = params.maskDilation if params.maskDilation is not None else masks.default_dilation(image.size)
        hole = masks.checked(masks.dilate(hole, dilation))
        ctx.progress(0.05)
        rgb = np.asarray(image)
        weights = lama.WEIGHTS.find(ctx.settings.models_dir) if params.model in ("auto", "lama") else None
        if params.model == "lama" and weights is None:
            lama.WEIGHTS.require(ctx.settings.models_dir)
        if params.model == "sd":
            result, method = self._sd(image, hole, params, ctx)
        elif weights is not None:
            result, method = Image.fromarray(self.lama.paint(weights, rgb, hole)), self.lama.method(weights)
        else:
            result, method = Image.fromarray(classical_inpaint.fill(rgb, hole)), classical_inpaint.METHOD
        ctx.progress(0.9)
        if alpha is not None:
            result.putalpha(alpha)
        key = ctx.save_image(result, fmt=params.outputFormat)
        width, height = result.size
        return EraseResult(method=method, outputImageUrl=key, outputImageUrls=[key], width=width, height=height)

    def _sd(
        self, image: Image.Image, hole: NDArray[np.bool_], params: EraseParams, ctx: TaskContext
    ) -> tuple[Image.Image, str]:
        engine = sd_paint.require_engine(self.engine)
        left, top, right, bottom = masks.bounding_box(hole)
        mask = Image.fromarray(hole.astype(np.uint8) * 255)
        # "fill" (0) starts the hole from colours flowed in from around it, so nothing of the
        # object survives into the painting even at full strength.
        job = InpaintJob(image=image, mask=mask, prompt=params.prompt, seed=params.seed, fill=0, strength=1.0)
        region = (right - left + 2 * job.padding, bottom - top + 2 * job.padding)
        outcome = sd_paint.paint(engine, job, region, ctx)
        return outcome.images[0], sd_paint.method(outcome)
