"""Dense face landmarks: MediaPipe Face Mesh, 478 points per face (with iris refinement); the
model ships inside the mediapipe wheel."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

METHOD = "mediapipe-facemesh"
POINTS = 478


class FaceMesh:
    """Landmarks in pixels, (478, 3): x, y and a relative depth z (same scale as x)."""

    def __init__(self, max_faces: int = 8) -> None:
        self._max_faces = max_faces
        self._lock = threading.Lock()
        self._model: Any = None

    def _mesh(self) -> Any:
        import mediapipe as mp

        if self._model is None:
            self._model = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=self._max_faces,
                refine_landmarks=True,
                min_detection_confidence=0.3,
            )
        return self._model

    def landmarks(self, image: Image.Image) -> list[NDArray[np.float32]]:
        """One (478, 3) array per face found, ordered left to right."""
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        height, width = rgb.shape[:2]
        with self._lock:  # MediaPipe graphs are not thread-safe
            result = self._mesh().process(rgb)
        faces = []
        for face in result.multi_face_landmarks or []:
            points = np.array([(p.x * width, p.y * height, p.z * width) for p in face.landmark], np.float32)
            faces.append(points)
        return sorted(faces, key=lambda points: float(points[:, 0].min()))
