"""erase: object removal. The white area of maskImage (dilated a little, to take the object's soft
edge and fringe along) is rebuilt from its surroundings: by LaMa when installed, else by OpenCV's
FSR inpainting; by SD inpainting when the caller asks for it and a checkpoint is installed.

A mask at another resolution but the image's aspect ratio (drawn on a preview) is scaled to fit;
one of another shape answers "400" at submit. An empty mask fails the task with "400"."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.inpaint import InpaintJob
from imgopen.engine.service import DiffusionEngine
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.pixels import classical_inpaint, lama, masks, sd_paint
from imgopen.tools.pixels.erase_spec import EraseParams, EraseResult, EraseSpec
from imgopen.tools.pixels.weights import LAMA

__all__ = ["EraseParams", "EraseResult", "EraseTool"]


class EraseTool(EraseSpec, Tool[EraseParams, EraseResult]):
    def __init__(self, engine: DiffusionEngine | None = None) -> None:
        self.engine = engine
        self.lama = lama.Lama(engine.cache if engine is not None else None)

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
        weights = LAMA.find(ctx.settings.models_dir) if params.model in ("auto", "lama") else None
        if params.model == "lama" and weights is None:
            LAMA.require(ctx.settings.models_dir)
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
