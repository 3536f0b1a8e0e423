"""A classical face swap from MediaPipe Face Mesh landmarks (478 points per face), no neural
swapper needed:

1. Warp: the target's mesh points are triangulated (Delaunay); every target pixel inside the face
   takes the source pixel at the same barycentric position in the source's matching triangle.
   One dense remap, so there are no seams between triangles.
2. Mask: the face oval (shrunk a little: the mesh edge runs along the jaw, where a wrong pixel
   shows most; its top lowered towards the brows, where hair often covers the forehead), minus
   each eye opening or inner mouth that is much more open in the target than in the source:
   stretched across an open mouth or eye, the source's closed lips or lids would smear, so there
   the target keeps its own eyes, teeth and tongue. Where both are alike, the source's own eyes
   and mouth come along (they carry much of a face's identity).
3. Colour: the target's own shading (LAB lightness, blurred) plus the source's detail above that
   scale; the colour channels' mean and spread matched to the target face's.
4. Blend: Poisson (cv2.seamlessClone) so the skin tone meets the target's at the border, then a
   feathered mask, so nothing outside the face region changes.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import Delaunay

METHOD = "mediapipe-facemesh"
ByteArray = NDArray[np.uint8]
FloatArray = NDArray[np.float32]

MESH_POINTS = 468  # the iris points (468..477) would only add slivers inside the eyes
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Eye openings (lid margins) and the inner lip line, as closed loops; sides as seen in the image.
LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
RIGHT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
INNER_MOUTH = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
# Openness: (upper, lower, corner, corner) points; the opening's height over its width.
OPENINGS = {
    LEFT_EYE: (159, 145, 33, 133),
    RIGHT_EYE: (386, 374, 362, 263),
    INNER_MOUTH: (13, 14, 78, 308),
}
MORE_OPEN = 1.6  # a target opening this many times the source's (and visibly open) keeps its own
VISIBLY_OPEN = 0.08
BROWS = (105, 66, 107, 336, 296, 334)  # the upper edge of both eyebrows
CHIN, FOREHEAD_TOP = 152, 10
FOREHEAD_KEPT = 0.5  # of the forehead between the brows and the mesh's top edge (often under hair)


def face_size(mesh: FloatArray) -> float:
    """The face's scale in pixels: the diagonal of its landmarks' bounding box."""
    span = mesh[:MESH_POINTS, :2].max(axis=0) - mesh[:MESH_POINTS, :2].min(axis=0)
    return float(np.hypot(*span))


def openness(mesh: FloatArray, loop: tuple[int, ...]) -> float:
    upper, lower, corner_a, corner_b = OPENINGS[loop]
    width = float(np.linalg.norm(mesh[corner_a, :2] - mesh[corner_b, :2]))
    return float(np.linalg.norm(mesh[upper, :2] - mesh[lower, :2])) / max(width, 1e-6)


def kept_openings(target_mesh: FloatArray, source_mesh: FloatArray) -> list[tuple[int, ...]]:
    """The target's eye openings and inner mouth that the swap leaves alone (see the module doc)."""
    kept = []
    for loop in OPENINGS:
        target_open = openness(target_mesh, loop)
        if target_open > VISIBLY_OPEN and target_open > MORE_OPEN * openness(source_mesh, loop):
            kept.append(loop)
    return kept


def region_mask(shape: tuple[int, int], mesh: FloatArray, kept: list[tuple[int, ...]]) -> ByteArray:
    """255 where the swap may draw: the face outline shrunk by 2% of the face's size, minus the
    `kept` openings grown by 1%."""
    size = face_size(mesh)
    mask: ByteArray = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.rint(_outline(mesh)).astype(np.int32)], 255)
    shrink = max(1, round(size * 0.02))
    mask = np.asarray(cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * shrink + 1,) * 2)), np.uint8)
    if kept:
        holes: ByteArray = np.zeros(shape, np.uint8)
        for loop in kept:
            cv2.fillPoly(holes, [np.rint(mesh[list(loop), :2]).astype(np.int32)], 255)
        grow = max(1, round(size * 0.01))
        holes = np.asarray(
            cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)), np.uint8
        )
        mask[holes > 0] = 0
    return mask


def _outline(mesh: FloatArray) -> FloatArray:
    """The face oval with its upper part lowered towards the brows: the mesh's hairline is a guess,
    and where the target's hair falls over the forehead the swap must not paint skin over it."""
    xy = mesh[:, :2].astype(np.float32)
    up = xy[FOREHEAD_TOP] - xy[CHIN]
    up /= max(float(np.linalg.norm(up)), 1e-6)
    brows = xy[list(BROWS)].mean(axis=0)
    oval = xy[list(FACE_OVAL)].copy()
    height = (oval - brows) @ up  # above the brows: > 0
    lowered = np.clip(height, 0.0, None) * (1.0 - FOREHEAD_KEPT)
    return np.asarray(oval - lowered[:, None] * up[None, :], np.float32)


def warp(
    source: ByteArray, source_mesh: FloatArray, target_mesh: FloatArray, shape: tuple[int, int]
) -> tuple[ByteArray, ByteArray]:
    """The source face moved onto the target's landmarks (an image of the target's `shape`), and
    255 where it was filled (inside the target's mesh and mapped inside the source image)."""
    target_points = target_mesh[:MESH_POINTS, :2].astype(np.float64)
    source_points = source_mesh[:MESH_POINTS, :2].astype(np.float64)
    triangulation = Delaunay(target_points)
    height, width = shape
    left, top = (max(0, int(np.floor(v))) for v in target_points.min(axis=0))
    right = min(width, int(np.ceil(target_points[:, 0].max())) + 1)
    bottom = min(height, int(np.ceil(target_points[:, 1].max())) + 1)
    out = np.zeros((height, width, 3), np.uint8)
    filled = np.zeros((height, width), np.uint8)
    if right <= left or bottom <= top:
        return out, filled
    ys, xs = np.mgrid[top:bottom, left:right]
    pixels = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    simplex = triangulation.find_simplex(pixels)
    inside = simplex >= 0
    pixels, simplex = pixels[inside], simplex[inside]
    # Barycentric coordinates from scipy's per-triangle affine transforms.
    transform = triangulation.transform[simplex]
    partial = np.einsum("nij,nj->ni", transform[:, :2, :], pixels - transform[:, 2, :])
    weights = np.concatenate([partial, 1.0 - partial.sum(axis=1, keepdims=True)], axis=1)
    corners = source_points[triangulation.simplices[simplex]]  # (n, 3, 2)
    mapped = np.einsum("ni,nij->nj", weights, corners)
    map_x = np.full((bottom - top, right - left), -1.0, np.float32)
    map_y = np.full((bottom - top, right - left), -1.0, np.float32)
    rows, cols = (pixels[:, 1] - top).astype(np.int64), (pixels[:, 0] - left).astype(np.int64)
    map_x[rows, cols] = mapped[:, 0]
    map_y[rows, cols] = mapped[:, 1]
    out[top:bottom, left:right] = cv2.remap(
        source, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    src_h, src_w = source.shape[:2]
    valid = (map_x >= 0) & (map_y >= 0) & (map_x <= src_w - 1) & (map_y <= src_h - 1)
    filled[top:bottom, left:right] = np.where(valid, 255, 0).astype(np.uint8)
    return out, filled


def _masked_blur(values: FloatArray, weights: FloatArray, sigma: float) -> FloatArray:
    """A Gaussian blur that averages only over the pixels where `weights` (0..1) are set."""
    numerator = cv2.GaussianBlur(values * weights, (0, 0), sigma)
    denominator = cv2.GaussianBlur(weights, (0, 0), sigma)
    return np.asarray(numerator / np.maximum(denominator, 1e-4), np.float32)


def match_colour(face: ByteArray, target: ByteArray, mask: ByteArray, size: float) -> ByteArray:
    """`face` relit and recoloured to sit in the target, inside `mask`:
    - lightness (LAB L): the target's own shading (its blur at ~4% of the face's size) plus the
      face's detail finer than that, so the target's light direction and skin tone stay and the
      source's features, wrinkles and pores come along;
    - colour (a, b): mean and spread matched to the target's. The spread's ratio is bounded, so
      a flat target (a grey photo) greys the face instead of amplifying its noise."""
    inside = mask > 0
    if inside.sum() < 16:
        return face
    weights = inside.astype(np.float32)
    face_lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    target_lab = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    sigma = max(1.5, size * 0.04)
    face_light = face_lab[..., 0]
    detail = face_light - _masked_blur(face_light, weights, sigma)
    face_lab[..., 0] = _masked_blur(target_lab[..., 0], weights, sigma) + detail
    for channel in (1, 2):
        values, reference = face_lab[..., channel][inside], target_lab[..., channel][inside]
        ratio = float(np.clip(reference.std() / max(float(values.std()), 1e-3), 0.0, 2.0))
        face_lab[..., channel] = (face_lab[..., channel] - values.mean()) * ratio + reference.mean()
    matched = cv2.cvtColor(np.clip(np.rint(face_lab), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return np.asarray(matched, np.uint8)


def blend(target: ByteArray, face: ByteArray, mask: ByteArray, size: float) -> ByteArray:
    """The face laid into the target: Poisson-cloned, then cross-faded at the mask's edge over
    about 3% of the face's size. Pixels where the mask is 0 stay exactly as they were."""
    if mask.max() == 0:
        return target.copy()
    # seamlessClone needs the mask's box one pixel inside the image: pad everything first.
    pad = 4
    padded_target = cv2.copyMakeBorder(target, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    padded_face = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    padded_mask = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    x, y, w, h = cv2.boundingRect(padded_mask)
    # The clone puts the mask's box centred on `center`; with the box's own centre (rounded down,
    # as OpenCV does) nothing moves.
    center = (x + w // 2, y + h // 2)
    cloned = cv2.seamlessClone(padded_face, padded_target, padded_mask, center, cv2.NORMAL_CLONE)
    cloned = cloned[pad:-pad, pad:-pad]
    # Eroded by the feather's width first, so that the blurred alpha is near 0 at the mask's edge.
    feather = max(1, round(size * 0.03))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * feather + 1, 2 * feather + 1))
    inner = cv2.erode(mask, kernel)
    alpha = cv2.GaussianBlur(inner.astype(np.float32) / 255.0, (0, 0), feather / 2)
    alpha = np.where(mask > 0, alpha, 0.0)[..., None]
    out = target.astype(np.float32) * (1.0 - alpha) + cloned.astype(np.float32) * alpha
    return np.asarray(np.clip(np.rint(out), 0, 255), np.uint8)


def swap(source: ByteArray, source_mesh: FloatArray, target: ByteArray, target_mesh: FloatArray) -> ByteArray:
    """The target RGB image with the source face (both given with their mesh landmarks) laid
    over its face. Only a box around the target face is worked on (large photos stay fast)."""
    height, width = target.shape[:2]
    size = face_size(target_mesh)
    margin = round(size * 0.1)
    left, top = (max(0, int(v) - margin) for v in target_mesh[:, :2].min(axis=0))
    right = min(width, int(target_mesh[:, 0].max()) + margin + 1)
    bottom = min(height, int(target_mesh[:, 1].max()) + margin + 1)
    out = target.copy()
    if right <= left or bottom <= top:
        return out
    box = np.ascontiguousarray(target[top:bottom, left:right])
    mesh = target_mesh.copy()
    mesh[:, 0] -= left
    mesh[:, 1] -= top
    shape = (bottom - top, right - left)
    warped, filled = warp(source, source_mesh, mesh, shape)
    mask = region_mask(shape, mesh, kept_openings(target_mesh, source_mesh))
    mask[filled == 0] = 0  # pixels the warp could not fill are no part of the swap
    matched = match_colour(warped, box, mask, size)
    out[top:bottom, left:right] = blend(box, matched, mask, size)
    return out
