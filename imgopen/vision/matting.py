"""Soft alpha from a coarse mask: a colour guided filter (He, Sun and Tang) aligns the mask's edges
with the photograph's, then a contrast curve narrows the soft band to the true transition."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]


def _box(values: FloatArray, radius: int) -> FloatArray:
    size = 2 * radius + 1
    return np.asarray(cv2.boxFilter(values, -1, (size, size), borderType=cv2.BORDER_REFLECT), np.float32)


def guided_filter(guide: FloatArray, source: FloatArray, radius: int, eps: float, subsample: int = 4) -> FloatArray:
    """Edge-aware smoothing of `source` (H x W) steered by the colour `guide` (H x W x 3, 0..1).

    The "fast" variant: the local linear coefficients are fitted at 1/subsample of the size and
    scaled back up, then applied to the full-size guide, so edges stay at full resolution while
    the cost drops about subsample^2 times (He and Sun, 2015)."""
    height, width = source.shape
    small = (max(1, round(width / subsample)), max(1, round(height / subsample)))
    guide_s = np.asarray(cv2.resize(guide, small, interpolation=cv2.INTER_AREA), np.float32)
    source_s = np.asarray(cv2.resize(source, small, interpolation=cv2.INTER_AREA), np.float32)
    r = max(1, round(radius / subsample))
    mean_i = _box(guide_s, r)
    mean_p = _box(source_s, r)
    cov_ip = _box(guide_s * source_s[..., None], r) - mean_i * mean_p[..., None]
    red, green, blue = guide_s[..., 0], guide_s[..., 1], guide_s[..., 2]
    products = _box(np.dstack([red * red, red * green, red * blue, green * green, green * blue, blue * blue]), r)
    # The guide's local 3x3 covariance (+ eps on the diagonal), symmetric: six distinct entries.
    s00 = products[..., 0] - mean_i[..., 0] * mean_i[..., 0] + eps
    s01 = products[..., 1] - mean_i[..., 0] * mean_i[..., 1]
    s02 = products[..., 2] - mean_i[..., 0] * mean_i[..., 2]
    s11 = products[..., 3] - mean_i[..., 1] * mean_i[..., 1] + eps
    s12 = products[..., 4] - mean_i[..., 1] * mean_i[..., 2]
    s22 = products[..., 5] - mean_i[..., 2] * mean_i[..., 2] + eps
    # Its inverse by cofactors: one closed form per pixel, far cheaper than a batched solve.
    c00, c01, c02 = s11 * s22 - s12 * s12, s02 * s12 - s01 * s22, s01 * s12 - s02 * s11
    c11, c12, c22 = s00 * s22 - s02 * s02, s01 * s02 - s00 * s12, s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    cr, cg, cb = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    coeff = np.dstack([c00 * cr + c01 * cg + c02 * cb, c01 * cr + c11 * cg + c12 * cb, c02 * cr + c12 * cg + c22 * cb])
    coeff /= det[..., None]
    offset = mean_p - (coeff * mean_i).sum(axis=2)
    planes = np.dstack([_box(coeff, r), _box(offset, r)])
    full = np.asarray(cv2.resize(planes, (width, height), interpolation=cv2.INTER_LINEAR), np.float32)
    out = full[..., 3] + full[..., 0] * guide[..., 0]
    out += full[..., 1] * guide[..., 1]
    out += full[..., 2] * guide[..., 2]
    return out


def refine_alpha(rgb: NDArray[np.uint8], probability: FloatArray, sharpness: float = 4.0) -> FloatArray:
    """A soft alpha (0..1) from a coarse probability map and the photograph it belongs to.

    The radius covers the blur of a mask predicted at a quarter of the size (MediaPipe works at
    256 px); `sharpness` steepens the filtered map around 0.5 so that only the few pixels where
    subject and background really mix stay partly transparent."""
    height, width = probability.shape
    radius = max(2, round(min(height, width) / 64))
    guide = rgb.astype(np.float32) * np.float32(1 / 255)
    subsample = max(1, min(4, radius // 2))
    filtered = guided_filter(guide, probability.astype(np.float32), radius, 1e-3, subsample)
    alpha = (filtered - 0.5) * sharpness + 0.5
    return np.clip(alpha, 0.0, 1.0, out=alpha)


def drop_specks(alpha: FloatArray, min_fraction: float = 0.001) -> FloatArray:
    """Zero the opaque islands smaller than min_fraction of the image (stray specks a segmenter
    leaves on textured backgrounds); holes and the subject itself are kept."""
    solid = (alpha > 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    small = np.nonzero(stats[1:, cv2.CC_STAT_AREA] < min_fraction * alpha.size)[0] + 1
    if count <= 1 or small.size == 0:
        return alpha
    speck = np.isin(labels, small)
    near = cv2.dilate(speck.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    cleaned = alpha.copy()
    # The speck and its soft rim go; the solid pixels of the kept regions are never touched.
    cleaned[near & (speck | (labels == 0))] = 0.0
    return cleaned


def estimate_foreground(rgb: NDArray[np.uint8], alpha: FloatArray, radius: int = 6) -> NDArray[np.uint8]:
    """Colours for the partly transparent pixels without the background shining through.

    One pass of blur-fusion foreground estimation (Forte and Pitié, 2021): the foreground and
    background colours near each pixel are alpha-weighted local means, and the pixel's colour is
    corrected by what the compositing equation leaves unexplained. Opaque and fully transparent
    pixels keep their colour."""
    band = np.flatnonzero((alpha > 0.0) & (alpha < 1.0))
    if band.size == 0:
        return rgb.copy()
    image = rgb.astype(np.float32)
    size = (2 * radius + 1, 2 * radius + 1)
    # Three blurs give all four local sums (the background's are the totals minus the foreground's),
    # read at the band's pixels only.
    total_a = cv2.blur(alpha, size).reshape(-1)[band][:, None]
    total_i = cv2.blur(image, size).reshape(-1, 3)[band]
    fore_sum = cv2.blur(image * alpha[..., None], size).reshape(-1, 3)[band]
    fore = fore_sum / (total_a + 1e-5)
    back = (total_i - fore_sum) / (1.0 - total_a + 1e-5)
    a = alpha.reshape(-1)[band][:, None]
    pixels = image.reshape(-1, 3)[band]
    corrected = fore + a * (pixels - a * fore - (1.0 - a) * back)
    out = rgb.copy()
    out.reshape(-1, 3)[band] = np.clip(np.round(corrected), 0, 255).astype(np.uint8)
    return out
