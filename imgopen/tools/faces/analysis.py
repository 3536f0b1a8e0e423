"""Finding faces for the face tools: boxes, scores and the five alignment points, from SCRFD when
it is installed, else from MediaPipe (BlazeFace boxes, Face Mesh points); and each face's dense
mesh, which the classical swap needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.tools.faces.weights import SCRFD
from imgopen.tools.onnx_sessions import onnx_session
from imgopen.vision import face_align, scrfd
from imgopen.vision.face_mesh import FaceMesh
from imgopen.vision.faces import METHOD as BLAZEFACE
from imgopen.vision.faces import Face, FaceDetector

ByteArray = NDArray[np.uint8]
FloatArray = NDArray[np.float32]
MESH_CROP = 256  # Face Mesh runs on a square crop around each face, at this size
MESH_CONTEXT = 2.0  # the crop's side, in face-box sides
# Mouth corners from BlazeFace's mouth centre when the mesh fails: in the ArcFace template the
# mouth is 0.83 eye distances wide.
MOUTH_HALF_WIDTH = 0.414


@dataclass(frozen=True)
class FoundFace:
    box: tuple[int, int, int, int]  # x, y, width, height in pixels
    score: float
    five: FloatArray  # (5, 2): left eye, right eye, nose, left and right mouth corner (image sides)
    mesh: FloatArray | None = field(default=None, compare=False)  # (478, 3) when already known

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


class FaceAnalyzer:
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)
        self._detector = FaceDetector(self._cache)
        self._mesh = FaceMesh(self._cache, max_faces=3)  # neighbours may show in a crop: the central one is kept

    def method(self, models_dir: Path) -> str:
        return scrfd.METHOD if SCRFD.find(models_dir) else BLAZEFACE

    def find(self, rgb: ByteArray, models_dir: Path, min_score: float = 0.5) -> tuple[list[FoundFace], str]:
        """Faces ordered left to right, and the detector that found them."""
        path = SCRFD.find(models_dir)
        if path is not None:
            return self._scrfd(rgb, path, min_score), scrfd.METHOD
        from PIL import Image

        faces = self._detector.detect(Image.fromarray(rgb), min_score)
        return [self._with_points(rgb, face) for face in faces], BLAZEFACE

    def _scrfd(self, rgb: ByteArray, path: Path, min_score: float) -> list[FoundFace]:
        height, width = rgb.shape[:2]
        found = []
        for detection in scrfd.detect(onnx_session(self._cache, path), rgb, min_score):
            x1, y1, x2, y2 = detection.box
            x, y = max(0, round(x1)), max(0, round(y1))
            w, h = min(width, round(x2)) - x, min(height, round(y2)) - y
            if w <= 1 or h <= 1:
                continue
            points = detection.points
            if points is None:  # a detector without keypoints: the mesh gives them
                mesh = self.mesh_at(rgb, (x, y, w, h))
                if mesh is None:
                    continue
                found.append(FoundFace((x, y, w, h), detection.score, face_align.five_from_mesh(mesh), mesh))
            else:
                found.append(FoundFace((x, y, w, h), detection.score, points))
        return sorted(found, key=lambda face: face.box[0])

    def _with_points(self, rgb: ByteArray, face: Face) -> FoundFace:
        mesh = self.mesh_at(rgb, face.box)
        if mesh is not None:
            return FoundFace(face.box, face.score, face_align.five_from_mesh(mesh), mesh)
        return FoundFace(face.box, face.score, _points_from_blazeface(face))

    def mesh(self, rgb: ByteArray, face: FoundFace) -> FloatArray | None:
        """The face's 478 mesh landmarks (pixels), or None when Face Mesh finds no face there."""
        return face.mesh if face.mesh is not None else self.mesh_at(rgb, face.box)

    def mesh_at(self, rgb: ByteArray, box: tuple[int, int, int, int]) -> FloatArray | None:
        """Face Mesh on a square crop around `box`, scaled to MESH_CROP px (the mesh's own detector
        then sees one face, large enough, whatever the photo's size); points in image pixels."""
        from PIL import Image

        x, y, w, h = box
        side = max(w, h) * MESH_CONTEXT
        scale = MESH_CROP / side
        cx, cy = x + w / 2, y + h / 2
        matrix = np.array([[scale, 0, MESH_CROP / 2 - cx * scale], [0, scale, MESH_CROP / 2 - cy * scale]], np.float32)
        crop = cv2.warpAffine(rgb, matrix, (MESH_CROP, MESH_CROP), flags=cv2.INTER_LINEAR)
        meshes = self._mesh.landmarks(Image.fromarray(np.asarray(crop, np.uint8)))
        if not meshes:
            return None
        middle = np.array([MESH_CROP / 2, MESH_CROP / 2], np.float32)
        points = min(meshes, key=lambda m: float(np.linalg.norm(m[:, :2].mean(axis=0) - middle))).copy()
        points[:, 0] = (points[:, 0] - matrix[0, 2]) / scale
        points[:, 1] = (points[:, 1] - matrix[1, 2]) / scale
        points[:, 2] = points[:, 2] / scale
        # A mesh whose centre lies outside the box is a neighbour's (this face's own was not found).
        centre = points[:, :2].mean(axis=0)
        if not (x - w * 0.25 <= centre[0] <= x + w * 1.25 and y - h * 0.25 <= centre[1] <= y + h * 1.25):
            return None
        return np.asarray(points, np.float32)


def _points_from_blazeface(face: Face) -> FloatArray:
    """Five points from BlazeFace's six keypoints (eyes, nose tip, mouth centre, ears): the mouth
    corners are placed on the eye line's direction around the mouth centre."""
    left_eye, right_eye, nose, mouth = (np.array(p, np.float32) for p in face.landmarks[:4])
    half = (right_eye - left_eye) * MOUTH_HALF_WIDTH
    return np.array([left_eye, right_eye, nose, mouth - half, mouth + half], np.float32)
