"""insightface's antelopev2 face analysis for InstantID, run with onnxruntime: SCRFD-10G finds the
faces and their five keypoints (imgopen.vision.scrfd), ArcFace glintr100 turns the face aligned
onto its template (imgopen.vision.face_align) into the 512-number identity InstantID is
conditioned on, raw (not unit length) as InstantID's pipeline takes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.tools.onnx_sessions import onnx_session
from imgopen.vision import face_align, scrfd
from imgopen.vision.scrfd import Detection

ARCFACE_SIDE = 112


def recognition_normalisation(model_path: Path) -> tuple[float, float]:
    """(mean, std) the recogniser's input wants. insightface's rule: MXNet exports carry their own
    normalisation (a Sub and a Mul among the first nodes) and take raw 0..255 pixels; the others
    (glintr100 among them) take (pixel - 127.5) / 127.5."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    first = [(node.name or "", node.op_type) for node in graph.node[:8]]
    has_sub = any(name.startswith(("Sub", "_minus")) or op == "Sub" for name, op in first)
    has_mul = any(name.startswith(("Mul", "_mul")) or op == "Mul" for name, op in first)
    return (0.0, 1.0) if has_sub and has_mul else (127.5, 127.5)


class FaceAnalysis:
    """Detector and recogniser sessions, in the model cache."""

    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)
        self._normalisation: dict[tuple[str, int], tuple[float, float]] = {}

    def detect(self, detector: Path, rgb: NDArray[np.uint8]) -> list[Detection]:
        """Faces with their five keypoints, best first (a detector without keypoints finds none)."""
        return [face for face in scrfd.detect(onnx_session(self._cache, detector), rgb) if face.points is not None]

    def embed(self, recogniser: Path, rgb: NDArray[np.uint8], face: Detection) -> NDArray[np.float32]:
        assert face.points is not None
        key = (str(recogniser), recogniser.stat().st_mtime_ns)
        if key not in self._normalisation:
            self._normalisation[key] = recognition_normalisation(recogniser)
        mean, std = self._normalisation[key]
        aligned, _ = face_align.crop(rgb, face.points, face_align.arcface_template(ARCFACE_SIDE), ARCFACE_SIDE)
        blob = (aligned.astype(np.float32) - mean) / std
        session = onnx_session(self._cache, recogniser)
        feed = {session.get_inputs()[0].name: np.ascontiguousarray(blob.transpose(2, 0, 1)[None], np.float32)}
        return np.asarray(session.run(None, feed)[0], np.float32).reshape(-1)


def face_area(face: Detection) -> float:
    x1, y1, x2, y2 = face.box
    return (x2 - x1) * (y2 - y1)
