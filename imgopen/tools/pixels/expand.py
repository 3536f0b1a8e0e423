"""imgExpand: outpainting. The canvas grows to ratio x the image's size on each axis, the image in
its centre; the new area is painted by SD inpainting when a checkpoint is installed (starting from
the classical fill, so colours continue across the border), else by the classical fill, which
`method` names. The original pixels are pasted back last: they stay exactly as they were."""

from __future__ import annotations

import secrets

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.inpaint import InpaintJob
from imgopen.engine.samplers import resolve_sampler
from imgopen.engine.service import DiffusionEngine
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.pixels import outpaint_fill, sd_paint
from imgopen.tools.pixels.expand_spec import ImgExpandParams, ImgExpandResult, ImgExpandSpec, canvas_size, check_request

__all__ = ["ImgExpandParams", "ImgExpandResult", "ImgExpandTool", "canvas_size"]


class ImgExpandTool(ImgExpandSpec, Tool[ImgExpandParams, ImgExpandResult]):
    def __init__(self, engine: DiffusionEngine | None = None) -> None:
        self.engine = engine

    def run(self, params: ImgExpandParams, ctx: TaskContext) -> ImgExpandResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        # Checked again: a task may run long after it was submitted. "sd" without a checkpoint is
        # refused in _sd (sd_paint.require_engine), with the submit-time check's "503".
        check_request(params, image.size, ctx.settings)
        size = canvas_size(image.width, image.height, params)
        offset = ((size[0] - image.width) // 2, (size[1] - image.height) // 2)
        first = params.seed if params.seed >= 0 else secrets.randbelow(2**32 - params.imageCount)
        seeds = [first + index for index in range(params.imageCount)]
        rgb = np.asarray(image)
        use_sd = params.model == "sd" or (
            params.model == "auto" and self.engine is not None and self.engine.has_checkpoint()
        )
        if use_sd:
            images, method = self._sd(rgb, size, offset, params, first, ctx)
        else:
            images = []
            for index, seed in enumerate(seeds):
                images.append(Image.fromarray(outpaint_fill.fill(rgb, size, offset, seed)))
                ctx.progress((index + 1) / len(seeds) * 0.9)
            method = outpaint_fill.METHOD
        keys = []
        for index, picture in enumerate(images):
            # Whatever painted the border, the original is laid back exactly.
            picture.paste(image, offset)
            keys.append(ctx.save_image(picture, name=f"image-{index + 1}", fmt=params.outputFormat))
        return ImgExpandResult(
            method=method, outputImageUrl=keys[0], outputImageUrls=keys, width=size[0], height=size[1], seeds=seeds
        )

    def _sd(
        self,
        rgb: NDArray[np.uint8],
        size: tuple[int, int],
        offset: tuple[int, int],
        params: ImgExpandParams,
        first: int,
        ctx: TaskContext,
    ) -> tuple[list[Image.Image], str]:
        engine = sd_paint.require_engine(self.engine)
        start = Image.fromarray(outpaint_fill.fill(rgb, size, offset, first))
        mask = Image.new("L", size, 255)
        mask.paste(0, (offset[0], offset[1], offset[0] + rgb.shape[1], offset[1] + rgb.shape[0]))
        job = InpaintJob(
            image=start,
            mask=mask,
            prompt=params.prompt,
            negative_prompt=params.negativePrompt,
            steps=params.sampleStep,
            cfg_scale=params.promptGuideFactor,
            sampler=resolve_sampler(params.sampler, "sampler"),
            seed=first,
            count=params.imageCount,
            fill=1,  # start from the classical fill: colours and light continue across the border
            strength=1.0,
            padding=0,
        )
        outcome = sd_paint.paint(engine, job, size, ctx)
        return outcome.images, sd_paint.method(outcome)
