"""People segmentation: MediaPipe Selfie Segmentation (general and landscape models, in the wheel)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

METHOD = "mediapipe-selfie-segmentation"


class PersonSegmenter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[int, Any] = {}

    def _model(self, selection: int) -> Any:
        import mediapipe as mp

        if selection not in self._models:
            self._models[selection] = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=selection)
        return self._models[selection]

    def probability(self, image: Image.Image, landscape: bool = False) -> NDArray[np.float32]:
        """Per pixel, the probability (0..1) of belonging to a person, the image's size."""
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        with self._lock:
            mask = self._model(1 if landscape else 0).process(rgb).segmentation_mask
        return np.asarray(mask, np.float32)
