"""hair/change, the light half: params, result and the submit-time checks (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from imgopen.errors import ImgOpenError
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.people.hair_colors import COLOR_NAMES, hair_color
from imgopen.tools.people.hair_styles import STYLE_CODES


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


def check_style(params: HairChangeParams, has_checkpoint: bool, models_dir: Path) -> None:
    """ "503" for a new hairstyle when no SD checkpoint is installed to paint it."""
    if params.style_text and not has_checkpoint:
        raise ImgOpenError(
            "503",
            "hairStyle: a new hairstyle is painted with Stable Diffusion and no checkpoint is installed; put an "
            "SD 1.5 / SDXL checkpoint (.safetensors or a diffusers folder) into "
            f"{models_dir / 'checkpoints'} (hairColor alone works without one)",
        )


class HairChangeSpec(ToolSpec[HairChangeParams, HairChangeResult]):
    code = "hair/change"
    summary = "Hairstyle changer"
    description = (
        "Finds the hair offline (face mesh, person mask, colour models, grabCut) and dyes it keeping its texture; a "
        "new hairstyle (a preset from `styles` or free text) is painted by Stable Diffusion inpainting."
    )
    pool = "gpu"  # a new style runs the diffusion engine; colour alone is quick either way
    params_model = HairChangeParams
    result_model = HairChangeResult

    def precheck(self, params: HairChangeParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        check_style(params, checks.has_sd_checkpoint(), checks.settings.models_dir)
