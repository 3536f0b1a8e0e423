"""mediapipe_face: the face mesh's contours drawn as the MediaPipe-face ControlNet expects them
(face oval and lips white, the person's right eye and brow red, the left ones green, irises blue)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.vision.control.settings import ControlMap, PreprocessSettings, rgb_array
from imgopen.vision.face_mesh import METHOD


def _contours() -> list[tuple[Any, tuple[int, int, int]]]:
    from mediapipe.python.solutions import face_mesh_connections as sets

    white, red, green, blue = (255, 255, 255), (255, 48, 48), (48, 255, 48), (48, 48, 255)
    return [
        (sets.FACEMESH_FACE_OVAL, white),
        (sets.FACEMESH_LIPS, white),
        (sets.FACEMESH_RIGHT_EYE, red),
        (sets.FACEMESH_RIGHT_EYEBROW, red),
        (sets.FACEMESH_LEFT_EYE, green),
        (sets.FACEMESH_LEFT_EYEBROW, green),
        (sets.FACEMESH_IRISES, blue),
    ]


def draw_mesh(canvas: NDArray[np.uint8], mesh: NDArray[np.float32]) -> None:
    for edges, colour in _contours():
        for a, b in edges:
            start = (round(float(mesh[a, 0])), round(float(mesh[a, 1])))
            cv2.line(canvas, start, (round(float(mesh[b, 0])), round(float(mesh[b, 1]))), colour, 2, cv2.LINE_AA)


def mediapipe_face(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """thresholdA (1..8, default 1): how many faces, largest first."""
    rgb = rgb_array(image, settings.resolution)
    faces = settings.networks().face_mesh.landmarks(Image.fromarray(rgb))
    faces.sort(key=lambda f: -float(np.ptp(f[:, 0]) * np.ptp(f[:, 1])))
    canvas = np.zeros_like(rgb)
    for mesh in faces[: round(settings.a(1, 1, 8))]:
        draw_mesh(canvas, mesh)
    return ControlMap(Image.fromarray(canvas), METHOD)
