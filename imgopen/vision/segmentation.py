"""People segmentation: MediaPipe Selfie Segmentation (general and landscape models, in the wheel)."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.vision.graphs import graph

METHOD = "mediapipe-selfie-segmentation"


class PersonSegmenter:
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)

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
        selection = 1 if landscape else 0
        with graph(self._cache, f"selfie_segmentation:{selection}", partial(_make, selection)) as model:
            mask = model.process(rgb).segmentation_mask
        found = np.asarray(mask, np.float32)
        if pad:
            found = found[pad:-pad, pad:-pad]
        return np.ascontiguousarray(found)


def _make(selection: int) -> Any:
    import mediapipe as mp

    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=selection)
