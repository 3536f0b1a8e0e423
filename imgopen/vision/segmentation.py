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

    def probability(self, image: Image.Image, landscape: bool = False, margin: float = 0.0) -> NDArray[np.float32]:
        """Per pixel, the probability (0..1) of belonging to a person, the image's size.

        `margin` (a fraction of the longer side) runs the model on the image widened by replicated
        border pixels. The model was trained on selfies, where the body runs on out of the frame,
        and it tends to spill the person over whatever touches the image's edge (on the
        astronaut, the black table in the bottom-right corner read 0.48); with a margin the
        border pixels are judged by their content like interior ones (0.08 there), while a body
        that really is cut by the edge stays whole, its replicated pixels still looking like it.
        """
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        pad = round(max(rgb.shape[:2]) * margin)
        if pad:
            rgb = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        with self._lock:
            mask = self._model(1 if landscape else 0).process(rgb).segmentation_mask
        found = np.asarray(mask, np.float32)
        if pad:
            found = found[pad:-pad, pad:-pad]
        return np.ascontiguousarray(found)
