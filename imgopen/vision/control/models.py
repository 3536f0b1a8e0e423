"""The networks the preprocessors use, loaded on first use into a model cache (the worker's, passed
by whoever builds this object: the diffusion engine, shared with the cnt/preview tool). A
preprocessor called without one builds its own for that call: correct, only slower."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.tools.onnx_sessions import onnx_session
from imgopen.vision.face_mesh import FaceMesh
from imgopen.vision.hands import HandDetector
from imgopen.vision.hed import HedNetwork
from imgopen.vision.pose import PoseEstimator


class AnnotatorModels:
    def __init__(self, cache: ModelCache | None = None, onnx_threads: int = 0) -> None:
        self.cache = own_cache(cache)
        self.hed = HedNetwork(self.cache)
        self.pose = PoseEstimator(self.cache)
        self.face_mesh = FaceMesh(self.cache, max_faces=8)
        self.hands = HandDetector(self.cache, max_hands=2)
        self._onnx_threads = onnx_threads

    def onnx(self, path: Path) -> Any:
        """The ONNX session of a depth network."""
        return onnx_session(self.cache, path, self._onnx_threads)
