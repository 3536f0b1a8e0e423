"""Dense face landmarks: MediaPipe Face Mesh, 478 points per face (with iris refinement); the
model ships inside the mediapipe wheel."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.vision.graphs import graph

METHOD = "mediapipe-facemesh"
POINTS = 478


class FaceMesh:
    """Landmarks in pixels, (478, 3): x, y and a relative depth z (same scale as x)."""

    def __init__(self, cache: ModelCache | None = None, max_faces: int = 8) -> None:
        self._cache = own_cache(cache)
        self._max_faces = max_faces

    def landmarks(self, image: Image.Image) -> list[NDArray[np.float32]]:
        """One (478, 3) array per face found, ordered left to right."""
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        height, width = rgb.shape[:2]
        with graph(self._cache, f"face_mesh:{self._max_faces}", partial(_make, self._max_faces)) as mesh:
            result = mesh.process(rgb)
        faces = []
        for face in result.multi_face_landmarks or []:
            points = np.array([(p.x * width, p.y * height, p.z * width) for p in face.landmark], np.float32)
            faces.append(points)
        return sorted(faces, key=lambda points: float(points[:, 0].min()))


def _make(max_faces: int) -> Any:
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True, min_detection_confidence=0.3
    )
