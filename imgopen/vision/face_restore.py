"""Face restoration, face by face: each face cropped and aligned to the FFHQ template (the crop
GFPGAN and CodeFormer were trained on), restored, and pasted back with a soft elliptical mask,
into the image enlarged by `upscale` when asked.

Restorers of one aligned crop:
- ONNX exports of GFPGAN / CodeFormer: a 512x512 RGB crop in -1..1 (NCHW) in and out;
  CodeFormer's exports take the fidelity as a second input "weight" (0: the most restored,
  1: the most faithful). Models without it are cross-faded with the crop by the fidelity.
- Offline: Real-ESRGAN x4plus (a GAN trained on photographs degraded by blur, noise and JPEG) on
  the aligned crop, cross-faded with the crop (bicubic-enlarged) by the fidelity. It sharpens and
  cleans; unlike GFPGAN it does not redraw a face from a prior.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from imgopen.vision import face_align

ByteArray = NDArray[np.uint8]
FloatArray = NDArray[np.float32]
NEURAL_SIZE = 512
# The face in the FFHQ crop: an ellipse from the hairline to below the chin, cheek to cheek.
FACE_CENTER = (0.5, 0.56)
FACE_AXES = (0.33, 0.38)
FACE_FEATHER = 0.035
OFFLINE_MIN, OFFLINE_MAX = 64, 128  # offline crop sizes: Real-ESRGAN x4plus costs ~3 s per 128x128

CropRestorer = Callable[[ByteArray], ByteArray]


def face_mask(size: int) -> FloatArray:
    return face_align.ellipse_mask(size, FACE_CENTER, FACE_AXES, FACE_FEATHER)


def natural_crop_size(five: FloatArray) -> float:
    """The side, in image pixels, of the FFHQ crop around this face."""
    template = face_align.FFHQ_512
    template_eyes = float(np.linalg.norm(template[1] - template[0]))
    eyes = float(np.linalg.norm(five[1] - five[0]))
    return eyes * NEURAL_SIZE / template_eyes


def neural_crop_size(_five: FloatArray) -> int:
    return NEURAL_SIZE


def offline_crop_size(five: FloatArray) -> int:
    """The offline restorer's crop side: the face's own size within OFFLINE_MIN..OFFLINE_MAX (its 4x
    output then has at least the face's resolution); for faces so large that 4x OFFLINE_MAX would
    lose resolution, a quarter of their size, up to 2 x OFFLINE_MAX (each doubling costs 4x)."""
    natural = natural_crop_size(five)
    if natural > 4 * OFFLINE_MAX:
        return int(min(2 * OFFLINE_MAX, np.ceil(natural / 4)))
    return int(np.clip(round(natural), OFFLINE_MIN, OFFLINE_MAX))


def _fade(restored: ByteArray, original: ByteArray, fidelity: float) -> ByteArray:
    mixed = restored.astype(np.float32) * (1.0 - fidelity) + original.astype(np.float32) * fidelity
    return np.asarray(np.clip(np.rint(mixed), 0, 255), np.uint8)


def onnx_restorer(session: Any, fidelity: float) -> CropRestorer:
    """GFPGAN / CodeFormer ONNX on a 512 px aligned crop."""
    inputs = session.get_inputs()
    image_input = next((item for item in inputs if item.name == "input"), inputs[0])
    weight_input = next((item for item in inputs if item.name == "weight"), None)

    def restore(crop: ByteArray) -> ByteArray:
        blob = (crop.astype(np.float32) / 255.0 - 0.5) / 0.5
        feed: dict[str, Any] = {image_input.name: np.ascontiguousarray(blob.transpose(2, 0, 1)[None])}
        if weight_input is not None:
            dtype = np.float64 if weight_input.type == "tensor(double)" else np.float32
            feed[weight_input.name] = np.array(fidelity if not weight_input.shape else [fidelity], dtype)
        output = np.asarray(session.run(None, feed)[0], np.float32)[0].transpose(1, 2, 0)
        restored = np.asarray(np.clip(np.rint((output + 1.0) * 127.5), 0, 255), np.uint8)
        return restored if weight_input is not None else _fade(restored, crop, fidelity)

    return restore


def esrgan_restorer(enlarge: Callable[[ByteArray], ByteArray], fidelity: float) -> CropRestorer:
    """A super-resolution net (`enlarge`: Real-ESRGAN x4plus) on the aligned crop, faded with the
    plain (bicubic) enlargement by the fidelity."""

    def restore(crop: ByteArray) -> ByteArray:
        sharp = enlarge(crop)
        plain = cv2.resize(crop, (sharp.shape[1], sharp.shape[0]), interpolation=cv2.INTER_CUBIC)
        return _fade(sharp, np.asarray(plain, np.uint8), fidelity)

    return restore


def restore_faces(
    rgb: ByteArray,
    fives: list[FloatArray],
    restore_crop: CropRestorer,
    crop_size: Callable[[FloatArray], int],
    upscale: int = 1,
    background: Callable[[ByteArray], ByteArray] | None = None,
    progress: Callable[[float], None] | None = None,
) -> ByteArray:
    """The image (enlarged `upscale` times by `background`) with every face restored."""
    if upscale > 1:
        if background is None:
            raise ValueError("upscale > 1 needs a background enlarger")
        out = background(rgb)
    else:
        out = rgb.copy()
    for index, five in enumerate(fives):
        size = crop_size(five)
        crop, matrix = face_align.crop(rgb, five, face_align.ffhq_template(size), size)
        restored = restore_crop(crop)
        # image -> crop, composed for the enlarged output and the restored crop's own size
        ratio = restored.shape[0] / size
        scaled = matrix.astype(np.float32).copy()
        scaled[:, :2] /= upscale
        scaled *= ratio
        out = face_align.paste(out, restored, scaled, face_mask(restored.shape[0]))
        if progress is not None:
            progress((index + 1) / len(fives))
    return out
