"""instantID, the light half: params, result, the checkpoint and files a request needs, and the
submit-time check that they are installed (see tools/base.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from imgopen.catalog.catalog import ModelCatalog, ModelEntry
from imgopen.errors import ImgOpenError
from imgopen.schemas.types import FileKey, ImageInput
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec
from imgopen.tools.checks import SubmitChecks
from imgopen.tools.people.instant_id.weights import InstantIdFiles, find_all, missing

SDXL = "SDXL 1.0"
DEFAULT_NEGATIVE = (
    "(lowres, low quality, worst quality:1.2), (text:1.2), watermark, deformed face, extra limbs, blurry, "
    "monochrome, painting, drawing, sketch"
)


class InstantIdParams(ToolParams):
    image: ImageInput = Field(description="A photo with the face whose identity the portrait keeps (the largest face).")
    prompt: str = Field(
        "a portrait photo", min_length=1, max_length=20000, description="What to draw (A1111 syntax: (word:1.2))."
    )
    negativePrompt: str = Field(DEFAULT_NEGATIVE, max_length=20000, description="What to avoid.")
    width: int = Field(1024, ge=64, le=2048, description="Width in pixels (rounded down to a multiple of 8).")
    height: int = Field(1024, ge=64, le=2048, description="Height in pixels (rounded down to a multiple of 8).")
    steps: int = Field(30, ge=1, le=100, description="Sampling steps.")
    guidanceScale: float = Field(5.0, ge=0, le=30, description="Classifier-free guidance scale (1 or less: off).")
    seed: int = Field(-1, ge=-1, le=2**32 - 1, description="Seed; -1 random.")
    identityStrength: float = Field(
        0.8, ge=0, le=1.5, description="How strongly the face embedding steers the image (the IP-Adapter's scale)."
    )
    controlStrength: float = Field(
        0.8, ge=0, le=1.5, description="How strongly the face's keypoints fix its place and pose (IdentityNet)."
    )
    checkpoint: str | None = Field(
        None, max_length=500, description="The SDXL checkpoint to draw with; default: the first one installed."
    )


class InstantIdResult(ToolResult):
    outputImageUrl: FileKey = Field(description="URL of the portrait.")
    outputImageUrls: list[FileKey] = Field(description="The same URL, as a list.")
    controlImageUrl: FileKey = Field(description="The keypoint drawing IdentityNet was given.")
    seed: int = Field(description="The seed used.")
    model: str = Field(description="The SDXL checkpoint that drew the portrait.")


def sdxl_checkpoint(name: str | None, catalog: ModelCatalog) -> ModelEntry | None:
    """The named checkpoint ("404" unknown, "400" not SDXL), else the first SDXL one installed."""
    if name:
        entry = catalog.require("checkpoint", name, "checkpoint")
        if entry.base_model != SDXL:
            raise ImgOpenError("400", f"checkpoint: {entry.name} is {entry.base_model}; InstantID runs on SDXL")
        return entry
    installed = [e for e in catalog.entries("checkpoint") if e.base_model == SDXL and e.variant != "inpainting"]
    return sorted(installed, key=lambda e: e.name.lower())[0] if installed else None


def requirements(params: InstantIdParams, catalog: ModelCatalog, models_dir: Path) -> tuple[ModelEntry, InstantIdFiles]:
    """The checkpoint and files; "503" listing every one that is missing."""
    checkpoint = sdxl_checkpoint(params.checkpoint, catalog)
    files = find_all(models_dir)
    if checkpoint is not None and files is not None:
        return checkpoint, files
    lines = missing(models_dir)
    if checkpoint is None:
        lines.insert(0, f"an SDXL checkpoint (.safetensors or diffusers folder) into {models_dir / 'checkpoints'}")
    raise ImgOpenError("503", "instantID needs weights that are not installed: " + "; ".join(lines))


class InstantIdSpec(ToolSpec[InstantIdParams, InstantIdResult]):
    code = "instantID"
    summary = "InstantID portrait"
    description = (
        "An identity-preserving portrait in any style from one face photo: InstantID (IdentityNet ControlNet + "
        "IP-Adapter on an SDXL checkpoint, antelopev2 face analysis). Needs those weights in models/instantid and "
        "models/insightface/antelopev2 (non-commercial licences: see the README)."
    )
    pool = "gpu"
    params_model = InstantIdParams
    result_model = InstantIdResult

    def precheck(self, params: InstantIdParams, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        requirements(params, checks.catalog, checks.settings.models_dir)
