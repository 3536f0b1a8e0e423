"""imgExpand: outpainting. The canvas grows to ratio x the image's size on each axis, the image in
its centre; the new area is painted by SD inpainting when a checkpoint is installed (starting from
the classical fill, so colours continue across the border), else by the classical fill, which
`method` names. The original pixels are pasted back last: they stay exactly as they were."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import Field

from imgopen.config import Settings
from imgopen.engine.inpaint import InpaintJob
from imgopen.engine.samplers import resolve_sampler
from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.media.encode import OutputFormat
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.pixels import outpaint_fill, sd_paint


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


class ImgExpandTool(Tool[ImgExpandParams, ImgExpandResult]):
    code = "imgExpand"
    summary = "Outpainting"
    description = (
        "Grows the canvas by the two ratios with the image in the centre, and paints the new area: Stable "
        "Diffusion inpainting when a checkpoint is installed, else a classical mirrored and blurred extension."
    )
    params_model = ImgExpandParams
    result_model = ImgExpandResult

    def __init__(self, engine: DiffusionEngine | None = None) -> None:
        self.engine = engine

    def precheck(self, params: ImgExpandParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        width, height = sizes["sourceImage"]
        new_w, new_h = canvas_size(width, height, params)
        if (new_w, new_h) == (width, height):
            raise ImgOpenError(
                "400",
                "verticalExpansionRatio/horizontalExpansionRatio: the canvas would not grow; give a ratio above 1",
            )
        if new_w * new_h > settings.max_output_pixels:
            raise ImgOpenError(
                "400",
                f"verticalExpansionRatio/horizontalExpansionRatio: the output would be {new_w}x{new_h}, over the "
                f"limit of {settings.max_output_pixels / 1e6:g} megapixels",
            )
        resolve_sampler(params.sampler, "sampler")
        if params.model == "sd":
            sd_paint.require_engine(self.engine)

    def run(self, params: ImgExpandParams, ctx: TaskContext) -> ImgExpandResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        self.precheck(params, {"sourceImage": image.size}, ctx.settings)
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
