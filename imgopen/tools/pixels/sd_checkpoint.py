"""Whether SD inpainting can run (erase's and imgExpand's `model: "sd"`), told from the catalog
alone: the light half of sd_paint, so that the API refuses such a request at submit."""

from __future__ import annotations

from pathlib import Path

from imgopen.errors import ImgOpenError
from imgopen.tools.checks import SubmitChecks


def no_checkpoint(folder: Path | str) -> ImgOpenError:
    return ImgOpenError(
        "503", f"model: 'sd' needs a Stable Diffusion checkpoint: put a .safetensors file into {folder}"
    )


def require_checkpoint(checks: SubmitChecks) -> None:
    """ "503" unless an SD checkpoint is installed."""
    if not checks.has_sd_checkpoint():
        raise no_checkpoint(checks.catalog.models_dir / "checkpoints")
