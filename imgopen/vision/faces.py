"""Face detection with MediaPipe's BlazeFace (the model ships inside the mediapipe wheel)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.vision.graphs import graph

METHOD = "mediapipe-blazeface"
# Below this short side an image is a close crop, and the face in it fills the frame. BlazeFace
# was trained on faces with context around them: on the 25x25 crops of scikit-image's lfw_subset
# it scores 100 faces >= 0.5 but also 2 of the 100 non-faces; with a replicated border of half
# the size on every side it finds all 100 faces and nothing at all on the non-faces. Upscaling
# alone does not help (BlazeFace resizes to 128 px itself): 96-98 faces and 1 non-face at 4x.
SMALL_SIDE = 160
SMALL_PAD = 0.5


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, width, height in pixels
    score: float
    landmarks: tuple[tuple[float, float], ...]  # eyes, nose tip, mouth, ear tragions (pixels)


class FaceDetector:
    """Short-range (faces within ~2 m, large in the frame) and full-range models; both run and
    their detections are merged, so close-ups and group shots are both found."""

    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)

    def detect(self, image: Image.Image, min_score: float = 0.5) -> list[Face]:
        """Faces ordered left to right."""
        rgb: NDArray[np.uint8] = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        height, width = rgb.shape[:2]
        pad = round(min(width, height) * SMALL_PAD) if min(width, height) < SMALL_SIDE else 0
        if pad:
            rgb = np.ascontiguousarray(cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE))
        found: list[Face] = []
        for selection in (0, 1):
            with graph(self._cache, f"face_detection:{selection}", partial(_make, selection)) as model:
                result = model.process(rgb)
            for detection in result.detections or []:
                score = float(detection.score[0])
                face = _face(detection, score, rgb.shape[1], rgb.shape[0], pad, width, height)
                if score >= min_score and face is not None:
                    found.append(face)
        return sorted(_merge(found), key=lambda face: face.box[0])


def _make(selection: int) -> Any:
    import mediapipe as mp

    return mp.solutions.face_detection.FaceDetection(model_selection=selection, min_detection_confidence=0.05)


def _face(detection: Any, score: float, seen_w: int, seen_h: int, pad: int, width: int, height: int) -> Face | None:
    """The detection in the original image's pixels (the padding taken off), or None if it has
    no area left inside the image."""
    box = detection.location_data.relative_bounding_box
    left, top = box.xmin * seen_w - pad, box.ymin * seen_h - pad
    right, bottom = left + box.width * seen_w, top + box.height * seen_h
    x, y = max(0, round(left)), max(0, round(top))
    w, h = min(width, round(right)) - x, min(height, round(bottom)) - y
    if w <= 1 or h <= 1:
        return None
    points = tuple(
        (float(p.x * seen_w - pad), float(p.y * seen_h - pad)) for p in detection.location_data.relative_keypoints
    )
    return Face((x, y, w, h), score, points)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter_w = max(0, min(ax2, bx2) - max(a[0], b[0]))
    inter_h = max(0, min(ay2, by2) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def _merge(faces: list[Face]) -> list[Face]:
    """The same face found by both models once, the higher score kept."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(_iou(face.box, other.box) < 0.4 for other in kept):
            kept.append(face)
    return kept
