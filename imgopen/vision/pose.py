"""Body pose: MediaPipe Pose (33 landmarks); only model_complexity=1 ships in the wheel (the lite
and heavy models download at run time, so they are never asked for)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.vision.graphs import graph

METHOD = "mediapipe-pose"
# MediaPipe's landmark order (names used by callers).
NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip


@dataclass(frozen=True)
class Keypoint:
    name: str
    x: float  # pixels
    y: float
    visibility: float  # 0..1


class PoseEstimator:
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)

    def keypoints(self, image: Image.Image) -> list[Keypoint]:
        """The 33 landmarks of the most prominent person, or [] when there is none."""
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        height, width = rgb.shape[:2]
        with graph(self._cache, "pose", _make) as pose:
            result = pose.process(rgb)
        if result.pose_landmarks is None:
            return []
        return [
            Keypoint(name, p.x * width, p.y * height, float(p.visibility))
            for name, p in zip(NAMES, result.pose_landmarks.landmark, strict=True)
        ]


def _make() -> Any:
    import mediapipe as mp

    return mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False)
