"""The face swap the roop tools and face/fusion share: inswapper_128 with an ArcFace recogniser
when both are installed, else the classical mesh swap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from imgopen.engine.cache import ModelCache
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.faces.analysis import FaceAnalyzer, FoundFace
from imgopen.tools.faces.weights import ARCFACE, INSWAPPER
from imgopen.tools.onnx_sessions import onnx_session
from imgopen.vision import inswapper, mesh_swap

ByteArray = NDArray[np.uint8]
FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class Neural:
    swapper: Path
    recogniser: Path


@dataclass(frozen=True)
class Source:
    """One source face, ready for the backend that will draw it."""

    field: str
    rgb: ByteArray
    face: FoundFace
    mesh: FloatArray | None  # classical backend
    identity: FloatArray | None  # neural backend


class FaceSwapper:
    def __init__(self, analyzer: FaceAnalyzer, cache: ModelCache) -> None:
        self._analyzer = analyzer
        self._cache = cache
        self._emaps: dict[tuple[str, int], FloatArray] = {}

    def backend(self, models_dir: Path, ctx: TaskContext | None = None) -> Neural | None:
        """The neural swapper when it and a recogniser are installed; None: the mesh swap."""
        swapper = INSWAPPER.find(models_dir)
        if swapper is None:
            return None
        recogniser = ARCFACE.find(models_dir)
        if recogniser is None:
            if ctx is not None:
                ctx.warn(
                    f"{swapper.name} needs a recogniser: {ARCFACE.missing_message(models_dir)}; used the mesh swap"
                )
            return None
        return Neural(swapper, recogniser)

    @staticmethod
    def method(backend: Neural | None) -> str:
        return inswapper.METHOD if backend is not None else mesh_swap.METHOD

    def source(self, rgb: ByteArray, face: FoundFace, field: str, backend: Neural | None) -> Source:
        if backend is not None:
            session = self._session(backend.recogniser)
            try:
                identity = inswapper.embedding(session, rgb, face.five)
            except Exception as exc:  # a file whose inputs or outputs are not a recogniser's
                raise ImgOpenError("503", f"{backend.recogniser} did not run as a face recogniser: {exc}") from exc
            return Source(field, rgb, face, None, identity)
        mesh = self._analyzer.mesh(rgb, face)
        if mesh is None:
            raise ImgOpenError("400", f"{field}: the face's landmarks could not be found (is it turned away?)")
        return Source(field, rgb, face, mesh, None)

    def swap(
        self, target: ByteArray, face: FoundFace, source: Source, backend: Neural | None, target_field: str
    ) -> ByteArray:
        """`target` with `source`'s face laid over `face`."""
        if backend is not None:
            assert source.identity is not None
            session = self._session(backend.swapper)
            emap = self._emap(backend.swapper)
            try:
                return inswapper.swap(session, emap, target, face.five, source.identity)
            except Exception as exc:  # a file whose inputs or outputs are not inswapper's
                raise ImgOpenError("503", f"{backend.swapper} did not run as a face swapper: {exc}") from exc
        mesh = self._analyzer.mesh(target, face)
        if mesh is None:
            raise ImgOpenError("400", f"{target_field}: the face's landmarks could not be found (is it turned away?)")
        assert source.mesh is not None
        return mesh_swap.swap(source.rgb, source.mesh, target, mesh)

    def _session(self, path: Path) -> object:
        try:
            return onnx_session(self._cache, path)
        except Exception as exc:  # onnxruntime's own errors: a damaged or foreign file
            raise ImgOpenError("503", f"{path} could not be loaded as an ONNX model: {exc}") from exc

    def _emap(self, path: Path) -> FloatArray:
        key = (str(path), path.stat().st_mtime_ns)
        if key not in self._emaps:
            try:
                emap = inswapper.load_emap(path)
            except ValueError as exc:
                raise ImgOpenError("503", f"{path}: {exc}") from exc
            self._emaps = {k: v for k, v in self._emaps.items() if k[0] != str(path)}
            self._emaps[key] = emap
        return self._emaps[key]
