"""The networks the preprocessors use, loaded on first use and kept by whoever owns this object
(the cnt/preview tool, the diffusion engine). A preprocessor called without one builds its own for
that call: correct, only slower."""

from __future__ import annotations

from imgopen.tools.onnx_sessions import OnnxSessions
from imgopen.vision.face_mesh import FaceMesh
from imgopen.vision.hands import HandDetector
from imgopen.vision.hed import HedNetwork
from imgopen.vision.pose import PoseEstimator


class AnnotatorModels:
    def __init__(self, onnx_threads: int = 0) -> None:
        self.hed = HedNetwork()
        self.pose = PoseEstimator()
        self.face_mesh = FaceMesh(max_faces=8)
        self.hands = HandDetector(max_hands=2)
        self.onnx = OnnxSessions(onnx_threads)
