"""The face restorer the codeformer tool, v2/roop and the SD endpoints' restore_faces share:
CodeFormer or GFPGAN when installed, else Real-ESRGAN on the aligned face crops."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.config import Settings
from imgopen.engine.cache import ModelCache, own_cache
from imgopen.errors import ImgOpenError
from imgopen.tools.faces.analysis import FaceAnalyzer
from imgopen.tools.faces.bundled_esrgan import FAST, PHOTO_X4, BundledEsrgan
from imgopen.tools.faces.restore_backend import Backend, choose_backend
from imgopen.tools.onnx_sessions import onnx_session
from imgopen.vision import face_restore

DEFAULT_FIDELITY = 0.5
ByteArray = NDArray[np.uint8]
FloatArray = NDArray[np.float32]


class FaceRestorer:
    """`restore(image)` is what the SD endpoints' restore_faces calls (engine.face_restorer)."""

    def __init__(
        self, settings: Settings, cache: ModelCache | None = None, analyzer: FaceAnalyzer | None = None
    ) -> None:
        self._settings = settings
        self._cache = own_cache(cache)
        self._analyzer = analyzer or FaceAnalyzer(self._cache)
        self._esrgan = BundledEsrgan(self._cache)

    def restore_faces(
        self,
        rgb: ByteArray,
        fives: list[FloatArray],
        backend: Backend,
        fidelity: float = DEFAULT_FIDELITY,
        upscale: int = 1,
        progress: Callable[[float], None] | None = None,
    ) -> tuple[ByteArray, str]:
        """The image enlarged `upscale` times with the faces at `fives` restored, and the method."""
        if backend.path is not None:
            try:
                session = onnx_session(self._cache, backend.path)
            except Exception as exc:  # onnxruntime's own errors: a damaged or foreign file
                raise ImgOpenError("503", f"{backend.path} could not be loaded as an ONNX model: {exc}") from exc
            restore_crop = face_restore.onnx_restorer(session, fidelity)
            crop_size: Callable[[FloatArray], int] = face_restore.neural_crop_size
        else:

            def enlarge(crop: ByteArray) -> ByteArray:
                return self._esrgan.upscale(crop, PHOTO_X4)

            restore_crop = face_restore.esrgan_restorer(enlarge, fidelity)
            crop_size = face_restore.offline_crop_size
        method = backend.method
        background = None
        if upscale > 1:
            model = FAST[upscale]
            method += f"+{model}"

            def background(image: ByteArray) -> ByteArray:
                return self._esrgan.upscale(image, model)

        try:
            out = face_restore.restore_faces(rgb, fives, restore_crop, crop_size, upscale, background, progress)
        except ImgOpenError:
            raise
        except Exception as exc:
            if backend.path is None:
                raise
            # A file whose inputs or outputs are not a face restorer's.
            raise ImgOpenError("503", f"{backend.path} did not run as a face restorer: {exc}") from exc
        return out, method

    def restore(self, image: Image.Image) -> Image.Image:
        """Every face in the image restored with the default settings (same size); the image as it
        is when it has no face. Raises ImgOpenError when no restorer can run."""
        models_dir = self._settings.models_dir
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB"), np.uint8))
        faces, _detector = self._analyzer.find(rgb, models_dir)
        if not faces:
            return image.copy()
        backend = choose_backend("auto", models_dir)
        try:
            out, _method = self.restore_faces(rgb, [face.five for face in faces], backend)
        except ImgOpenError:
            raise
        except Exception as exc:
            raise ImgOpenError("500", f"face restoration failed: {type(exc).__name__}: {exc}") from exc
        return Image.fromarray(out)
