"""hair/change: a new hair colour (offline) and/or a new hairstyle (Stable Diffusion inpainting of
the hair and the space around the head, with a published list of presets)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.inpaint import InpaintJob
from imgopen.engine.resolve import GENERATION_FAMILIES
from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.people.hair_change_spec import HairChangeParams, HairChangeResult, HairChangeSpec, check_style
from imgopen.tools.people.hair_colors import COLOR_NAMES, color_words, hair_color
from imgopen.tools.people.hair_styles import NEGATIVE_PROMPT, STYLE_CODES, resolve_style
from imgopen.vision.hair import HairFinder, HairRegion, repaint_area
from imgopen.vision.hair_color import recolour_hair

__all__ = ["HairChangeParams", "HairChangeResult", "HairChangeTool"]

MASK_METHOD = "mediapipe-hair-mask"
RECOLOUR_METHOD = "lab-recolour"
MIN_HAIR_PIXELS = 50  # fewer: a bald head or a hat, nothing to dye


class HairChangeTool(HairChangeSpec, Tool[HairChangeParams, HairChangeResult]):
    def __init__(self, engine: DiffusionEngine, steps: int = 25, work_side: int | None = None) -> None:
        self._engine = engine
        self._finder = HairFinder(engine.cache)
        self._steps = steps
        self._work_side = work_side  # the inpainting resolution; None: the checkpoint's own

    def run(self, params: HairChangeParams, ctx: TaskContext) -> HairChangeResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        check_style(params, self._engine.has_checkpoint(), ctx.settings.models_dir)
        region = self._finder.find(image)
        if region is None:
            raise ImgOpenError("422", "sourceImage: no face found (hair/change needs a face to find the hair)")
        ctx.progress(0.2)
        mask_key = ctx.save_image(_mask_image(region.alpha), name="hair-mask")
        color = hair_color(params.hairColor) if params.hairColor and params.hairColor.strip() else None
        if params.style_text:
            images, seeds, method = self._restyle(image, region, params, ctx)
            if color is not None:
                images = [self._dye_again(painted, color, ctx) for painted in images]
                method += "+" + RECOLOUR_METHOD
        else:
            assert color is not None  # the params' validator asks for a style or a colour
            if int((region.alpha > 0.5).sum()) < MIN_HAIR_PIXELS:
                raise ImgOpenError("422", "sourceImage: no hair found to colour (a bald head or a hat?)")
            if params.imageCount > 1:
                ctx.warn("imageCount: a colour change alone has one result; one image is returned")
            dyed = recolour_hair(np.asarray(image), region.alpha, color)
            images, seeds, method = [Image.fromarray(dyed)], [], f"{MASK_METHOD}+{RECOLOUR_METHOD}"
        ctx.progress(0.95)
        keys = [ctx.save_image(painted) for painted in images]
        return HairChangeResult(
            method=method,
            outputImageUrl=keys[0],
            outputImageUrls=keys,
            maskUrl=mask_key,
            seeds=seeds,
            styles=list(STYLE_CODES),
            colors=list(COLOR_NAMES),
        )

    def _restyle(
        self, image: Image.Image, region: HairRegion, params: HairChangeParams, ctx: TaskContext
    ) -> tuple[list[Image.Image], list[int], str]:
        preset, words, length = resolve_style(params.style_text)
        area = repaint_area(region, image.width, image.height, length)
        colour = f"{color_words(params.hairColor)} hair, " if params.hairColor and params.hairColor.strip() else ""
        prompt = f"photo of a person with {words}, {colour}natural hair texture, detailed, realistic lighting"
        job = InpaintJob(
            image=image,
            mask=_mask_image(area.astype(np.float32)),
            prompt=prompt,
            negative_prompt=NEGATIVE_PROMPT,
            steps=self._steps,
            seed=params.seed,
            count=params.imageCount,
            # The old hair must not show through: the area is painted from noise.
            strength=1.0,
            checkpoint=self._inpainting_checkpoint(),
            work_side=self._work_side,
        )
        outcome = self._engine.inpaint(job, ctx)
        name = preset.code if preset is not None else "custom"
        return outcome.images, outcome.seeds, f"sd-inpaint:{outcome.checkpoint.name}:{name}"

    def _inpainting_checkpoint(self) -> str | None:
        """An inpainting checkpoint when one is installed (it sees the unmasked picture while it paints,
        so the new hair meets the face and the background cleanly); else the engine's default."""
        entries = [
            e
            for e in self._engine.catalog.entries("checkpoint")
            if e.variant == "inpainting" and e.base_model in GENERATION_FAMILIES
        ]
        return sorted(entries, key=lambda e: e.name.lower())[0].name if entries else None

    def _dye_again(self, painted: Image.Image, color: tuple[int, int, int], ctx: TaskContext) -> Image.Image:
        """The colour the user asked for, exactly, on the hair the new style painted."""
        region = self._finder.find(painted)
        if region is None or int((region.alpha > 0.5).sum()) < MIN_HAIR_PIXELS:
            ctx.warn("hairColor: the painted hair was not found again; its colour is the prompt's only")
            return painted
        return Image.fromarray(recolour_hair(np.asarray(painted), region.alpha, color))


def _mask_image(alpha: NDArray[np.float32]) -> Image.Image:
    return Image.fromarray(np.asarray(np.round(np.clip(alpha, 0, 1) * 255), np.uint8), "L")
