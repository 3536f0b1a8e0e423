"""Face detection with MediaPipe's BlazeFace (the model ships inside the mediapipe wheel)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

METHOD = "mediapipe-blazeface"


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, width, height in pixels
    score: float
    landmarks: tuple[tuple[float, float], ...]  # eyes, nose tip, mouth, ear tragions (pixels)


class FaceDetector:
    """Short-range (faces within ~2 m, large in the frame) and full-range models; both run and
    their detections are merged, so close-ups and group shots are both found."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[int, Any] = {}

    def _model(self, selection: int, confidence: float) -> Any:
        import mediapipe as mp

        key = selection
        if key not in self._models:
            self._models[key] = mp.solutions.face_detection.FaceDetection(
                model_selection=selection, min_detection_confidence=0.05
            )
        return self._models[key]

    def detect(self, image: Image.Image, min_score: float = 0.5) -> list[Face]:
        """Faces ordered left to right."""
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        height, width = rgb.shape[:2]
        found: list[Face] = []
        with self._lock:  # MediaPipe graphs are not safe to share between threads
            for selection in (0, 1):
                result = self._model(selection, min_score).process(rgb)
                for detection in result.detections or []:
                    score = float(detection.score[0])
                    if score < min_score:
                        continue
                    box = detection.location_data.relative_bounding_box
                    x, y = max(0, round(box.xmin * width)), max(0, round(box.ymin * height))
                    w = min(width - x, round(box.width * width))
                    h = min(height - y, round(box.height * height))
                    if w <= 1 or h <= 1:
                        continue
                    points = tuple(
                        (float(p.x * width), float(p.y * height)) for p in detection.location_data.relative_keypoints
                    )
                    found.append(Face((x, y, w, h), score, points))
        return sorted(_merge(found), key=lambda face: face.box[0])


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
