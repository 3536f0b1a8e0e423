"""hair/change: a new hair colour (offline) and/or a new hairstyle (Stable Diffusion inpainting of
the hair and the space around the head, with a published list of presets)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import Field, field_validator, model_validator

from imgopen.config import Settings
from imgopen.engine.inpaint import InpaintJob
from imgopen.engine.resolve import GENERATION_FAMILIES
from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult
from imgopen.tools.people.hair_colors import COLOR_NAMES, color_words, hair_color
from imgopen.tools.people.hair_styles import NEGATIVE_PROMPT, STYLE_CODES, resolve_style
from imgopen.vision.hair import HairFinder, HairRegion, repaint_area
from imgopen.vision.hair_color import recolour_hair

MASK_METHOD = "mediapipe-hair-mask"
RECOLOUR_METHOD = "lab-recolour"
MIN_HAIR_PIXELS = 50  # fewer: a bald head or a hat, nothing to dye


class HairChangeParams(ToolParams):
    sourceImage: ImageInput
    hairStyle: str | None = Field(
        None,
        max_length=300,
        description=(
            "The new hairstyle: a preset code (" + ", ".join(STYLE_CODES) + ") or your own words ('a messy "
            "fringe'). Absent or empty: keep the style and change only the colour. Needs a Stable Diffusion "
            "checkpoint in models/checkpoints."
        ),
    )
    hairColor: str | None = Field(
        None,
        max_length=64,
        description=(
            "The new hair colour: " + ", ".join(COLOR_NAMES) + "; or any CSS colour name or #RRGGBB. Absent: "
            "the colour the new style is painted with (a hairStyle is then needed)."
        ),
    )
    imageCount: int = Field(
        1, ge=1, le=4, description="Variations of a new hairstyle, 1 to 4 (a colour change alone gives one image)."
    )
    seed: int = Field(-1, ge=-1, le=2**32 - 1, description="Seed of the first variation (the next add 1); -1 random.")

    @field_validator("hairColor")
    @classmethod
    def _known_colour(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            hair_color(value)
        return value

    @model_validator(mode="after")
    def _something_to_change(self) -> HairChangeParams:
        if not self.style_text and not (self.hairColor or "").strip():
            raise ValueError("give hairStyle (a preset code or a description) and/or hairColor")
        return self

    @property
    def style_text(self) -> str:
        return (self.hairStyle or "").strip()


class HairChangeResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the first image.")
    outputImageUrls: list[FileKey] = Field(description="URLs of every image.")
    maskUrl: FileKey = Field(description="The hair found in the source image, as a single-channel PNG.")
    seeds: list[int] = Field(description="The seed of each image (empty for a colour change alone).")
    styles: list[str] = Field(description="The hairStyle preset codes this server knows.")
    colors: list[str] = Field(description="The hair colour names this server knows (besides CSS names and #RRGGBB).")


class HairChangeTool(Tool[HairChangeParams, HairChangeResult]):
    code = "hair/change"
    summary = "Hairstyle changer"
    description = (
        "Finds the hair offline (face mesh, person mask, colour models, grabCut) and dyes it keeping its texture; a "
        "new hairstyle (a preset from `styles` or free text) is painted by Stable Diffusion inpainting."
    )
    pool = "gpu"  # a new style runs the diffusion engine; colour alone is quick either way
    params_model = HairChangeParams
    result_model = HairChangeResult

    def __init__(self, engine: DiffusionEngine, steps: int = 25, work_side: int | None = None) -> None:
        self._engine = engine
        self._finder = HairFinder()
        self._steps = steps
        self._work_side = work_side  # the inpainting resolution; None: the checkpoint's own

    def precheck(self, params: HairChangeParams, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        if params.style_text and not self._engine.has_checkpoint():
            raise ImgOpenError(
                "503",
                "hairStyle: a new hairstyle is painted with Stable Diffusion and no checkpoint is installed; put an "
                "SD 1.5 / SDXL checkpoint (.safetensors or a diffusers folder) into "
                f"{settings.models_dir / 'checkpoints'} (hairColor alone works without one)",
            )

    def run(self, params: HairChangeParams, ctx: TaskContext) -> HairChangeResult:
        image = ctx.image(params.sourceImage, "sourceImage")
        self.precheck(params, {"sourceImage": image.size}, ctx.settings)
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
