"""Five-point face alignment: the similarity transform that puts a face's eyes, nose and mouth
corners onto a model's template, the aligned crop, and pasting a processed crop back.

Five points, always in this order (sides as seen in the image): left eye, right eye, nose tip,
left mouth corner, right mouth corner. It is the order of SCRFD's keypoints and of the templates
that ArcFace, inswapper, GFPGAN and CodeFormer were trained with.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
ByteArray = NDArray[np.uint8]

# ArcFace's 112x112 template (insightface's reference points, in pixels).
ARCFACE_112: FloatArray = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float32,
)
# The FFHQ template at 512 px that GFPGAN and CodeFormer crop faces to (facexlib's points).
FFHQ_512: FloatArray = np.array(
    [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043],
     [313.08905, 371.15118]],
    np.float32,
)  # fmt: skip
POINT_NAMES = ("leftEye", "rightEye", "nose", "mouthLeft", "mouthRight")

# MediaPipe Face Mesh indices for the five points (image sides): the eye corners' midpoints are
# steadier than the iris centres, which move with the gaze.
_MESH_LEFT_EYE = (33, 133)
_MESH_RIGHT_EYE = (362, 263)
_MESH_NOSE_TIP = 1
_MESH_MOUTH_LEFT = 61
_MESH_MOUTH_RIGHT = 291


def arcface_template(size: int) -> FloatArray:
    """ArcFace's points for a `size` crop. Sizes that are multiples of 112 scale the template;
    others (inswapper's 128) use it as made for 128 px: unscaled, shifted 8 px right."""
    if size % 112 == 0:
        return ARCFACE_112 * (size / 112.0)
    ratio = size / 128.0
    return (ARCFACE_112 + np.array([8.0, 0.0], np.float32)) * ratio


def ffhq_template(size: int) -> FloatArray:
    return FFHQ_512 * (size / 512.0)


def five_from_mesh(mesh: FloatArray) -> FloatArray:
    """The five alignment points from MediaPipe's 468/478 mesh landmarks (pixels)."""
    xy = mesh[:, :2]
    return np.array(
        [
            xy[list(_MESH_LEFT_EYE)].mean(axis=0),
            xy[list(_MESH_RIGHT_EYE)].mean(axis=0),
            xy[_MESH_NOSE_TIP],
            xy[_MESH_MOUTH_LEFT],
            xy[_MESH_MOUTH_RIGHT],
        ],
        np.float32,
    )


def similarity(src: FloatArray, dst: FloatArray) -> FloatArray:
    """The 2x3 least-squares similarity (rotation, uniform scale, translation) taking `src`
    points onto `dst` (Umeyama's closed form, without reflection)."""
    src64, dst64 = src.astype(np.float64), dst.astype(np.float64)
    src_mean, dst_mean = src64.mean(axis=0), dst64.mean(axis=0)
    src_c, dst_c = src64 - src_mean, dst64 - dst_mean
    covariance = dst_c.T @ src_c / len(src64)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (src_c**2).sum() / len(src64)
    scale = float(np.trace(np.diag(singular) @ sign) / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3), np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix.astype(np.float32)


def matrix_scale(matrix: FloatArray) -> float:
    """How many output pixels one input pixel becomes under the 2x3 similarity."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2].astype(np.float64)))))


def crop(image: ByteArray, five: FloatArray, template: FloatArray, size: int) -> tuple[ByteArray, FloatArray]:
    """The face warped onto `template` in a size x size crop, and the image-to-crop matrix."""
    matrix = similarity(five, template)
    # Shrinking a large face with plain bilinear sampling aliases; area-average it first.
    scale = matrix_scale(matrix)
    source, used = image, matrix
    if scale < 0.5:
        height, width = image.shape[:2]
        small_w, small_h = max(1, round(width * scale * 2)), max(1, round(height * scale * 2))
        fx, fy = small_w / width, small_h / height
        source = np.asarray(cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA), np.uint8)
        # resize's pixel centres: s = (p + 0.5) * f - 0.5, so p = (s + 0.5) / f - 0.5
        used = matrix.copy()
        used[:, 0], used[:, 1] = matrix[:, 0] / fx, matrix[:, 1] / fy
        used[:, 2] = matrix[:, 2] + matrix[:, 0] * (0.5 / fx - 0.5) + matrix[:, 1] * (0.5 / fy - 0.5)
    aligned = cv2.warpAffine(source, used, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(aligned, np.uint8), matrix


def ellipse_mask(size: int, center: tuple[float, float], axes: tuple[float, float], feather: float) -> FloatArray:
    """A soft elliptical mask (0..1) in a size x size crop; centre and axes as fractions of the size,
    `feather` the blur's sigma as a fraction of the size."""
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(
        mask,
        (round(center[0] * size), round(center[1] * size)),
        (round(axes[0] * size), round(axes[1] * size)),
        0,
        0,
        360,
        1.0,
        -1,
    )
    sigma = max(1.0, feather * size)
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigma), np.float32)


def box_mask(size: int, margin: float, feather: float) -> FloatArray:
    """A soft square mask (0..1): 1 inside, fading to 0 over the outer `margin` of the crop."""
    mask = np.zeros((size, size), np.float32)
    inset = round(margin * size)
    mask[inset : size - inset, inset : size - inset] = 1.0
    sigma = max(1.0, feather * size)
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigma), np.float32)


def paste(image: ByteArray, face: ByteArray, matrix: FloatArray, mask: FloatArray) -> ByteArray:
    """`image` with the processed crop `face` put back where `matrix` (image -> crop, in the
    crop's own pixels) took it from, blended by `mask` (0..1, the crop's size)."""
    height, width = image.shape[:2]
    size = face.shape[0]
    used = matrix.astype(np.float32)
    # A crop larger than its face in the image would alias when warped down: shrink it first.
    scale = matrix_scale(matrix)
    if scale > 1.0:
        small = max(1, round(size / scale))
        factor = small / size
        face = np.asarray(cv2.resize(face, (small, small), interpolation=cv2.INTER_AREA), np.uint8)
        mask = np.asarray(cv2.resize(mask, (small, small), interpolation=cv2.INTER_AREA), np.float32)
        # resize's pixel centres: small = (crop + 0.5) * factor - 0.5
        used = used * factor
        used[:, 2] += 0.5 * (factor - 1.0)
    inverse = cv2.invertAffineTransform(used)
    # Only the crop's footprint in the image is warped and blended (faces are small in big photos).
    side = face.shape[0]
    corners = np.array([[0, 0, 1], [side, 0, 1], [0, side, 1], [side, side, 1]], np.float32) @ inverse.T
    left, top = (max(0, int(np.floor(v))) for v in corners.min(axis=0))
    right, bottom = (
        min(width, int(np.ceil(corners[:, 0].max())) + 1),
        min(height, int(np.ceil(corners[:, 1].max())) + 1),
    )
    out = image.copy()
    if right <= left or bottom <= top:
        return out
    shifted = np.asarray(inverse, np.float32).copy()
    shifted[:, 2] -= np.array([left, top], np.float32)
    region = (right - left, bottom - top)
    warped = cv2.warpAffine(face, shifted, region, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(mask, shifted, region, flags=cv2.INTER_LINEAR, borderValue=0.0)
    alpha = np.clip(alpha, 0.0, 1.0)[..., None]
    base = image[top:bottom, left:right].astype(np.float32)
    blended = base * (1.0 - alpha) + warped.astype(np.float32) * alpha
    out[top:bottom, left:right] = np.where(alpha > 0, np.clip(np.rint(blended), 0, 255), base).astype(np.uint8)
    return out
