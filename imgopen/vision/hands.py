"""Hand landmarks: MediaPipe Hands, 21 points per hand (the full models ship in the wheel)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.vision.graphs import graph

METHOD = "mediapipe-hands"
POINTS = 21


@dataclass(frozen=True)
class Hand:
    points: NDArray[np.float32]  # (21, 2) pixels: wrist, then thumb, index, middle, ring, little (4 each)
    side: str  # "left" or "right": the person's own hand
    score: float


class HandDetector:
    def __init__(self, cache: ModelCache | None = None, max_hands: int = 2) -> None:
        self._cache = own_cache(cache)
        self._max_hands = max_hands

    def detect(self, image: Image.Image) -> list[Hand]:
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        height, width = rgb.shape[:2]
        with graph(self._cache, f"hands:{self._max_hands}", partial(_make, self._max_hands)) as model:
            result = model.process(rgb)
        hands = []
        for landmarks, handedness in zip(
            result.multi_hand_landmarks or [], result.multi_handedness or [], strict=False
        ):
            points = np.array([(p.x * width, p.y * height) for p in landmarks.landmark], np.float32)
            label = handedness.classification[0]
            # MediaPipe labels hands as seen in a mirrored selfie; in a photograph its "Left" is the
            # person's right hand.
            side = "right" if label.label == "Left" else "left"
            hands.append(Hand(points, side, float(label.score)))
        return hands


def _make(max_hands: int) -> Any:
    import mediapipe as mp

    return mp.solutions.hands.Hands(
        static_image_mode=True, max_num_hands=max_hands, model_complexity=1, min_detection_confidence=0.4
    )
