"""The classical outpainting fill, used when no SD checkpoint is installed (and as the starting
picture SD paints over when one is): the image mirrored outwards, blurred more the farther from the
original, with fine grain added back where the blur took the texture away. Measured against the
alternatives on scikit-image's photographs (256 px + 48 px borders): Telea smears streaks,
FSR inpainting of the border takes ~5 s and repeats blocks; mirroring continues the actual
structures at the edge and takes ~0.1 s. It is a plausible extension, not new content, and the
tool's `method` says so."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

METHOD = "classical-mirror-blur"
LEVELS = 7  # blur levels: 2, 4 ... 128 px


def distance_outside(shape: tuple[int, int], box: tuple[int, int, int, int]) -> NDArray[np.float32]:
    """Per canvas pixel, the distance in pixels to the original's rectangle (0 inside it)."""
    height, width = shape
    left, top, right, bottom = box
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)
    dx = np.maximum(np.maximum(left - xs, xs - (right - 1)), 0)
    dy = np.maximum(np.maximum(top - ys, ys - (bottom - 1)), 0)
    distance: NDArray[np.float32] = np.hypot(dx[None, :], dy[:, None]).astype(np.float32)
    return distance


def _blurred(canvas: NDArray[np.uint8], level: int) -> NDArray[np.float32]:
    """The canvas blurred over about 2**level pixels: shrunk by area averaging and grown back
    smoothly (a Gaussian that wide would cost minutes on a large canvas)."""
    height, width = canvas.shape[:2]
    factor = 2**level
    small = cv2.resize(canvas, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    grown = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.asarray(cv2.GaussianBlur(grown.astype(np.float32), (0, 0), factor / 4), np.float32)


def fill(rgb: NDArray[np.uint8], size: tuple[int, int], offset: tuple[int, int], seed: int) -> NDArray[np.uint8]:
    """A `size` (w, h) canvas with `rgb` at `offset` (x, y) and the rest filled (see the module doc)."""
    height, width = rgb.shape[:2]
    canvas_w, canvas_h = size
    left, top = offset
    pads = ((top, canvas_h - height - top), (left, canvas_w - width - left), (0, 0))
    mirrored = np.pad(rgb, pads, mode="symmetric")
    distance = distance_outside((canvas_h, canvas_w), (left, top, left + width, top + height))
    # Blur level wanted per pixel: none at the edge, one more doubling every few times the distance.
    wanted = np.log2(1 + distance / 6)
    result = mirrored.astype(np.float32)
    for level in range(1, LEVELS + 1):
        weight = np.clip(wanted - (level - 1), 0, 1)[..., None]
        if not weight.any():
            break
        result += (_blurred(mirrored, level) - result) * weight
    # Grain as strong as the original's finest detail, where the blur removed it.
    detail = rgb.astype(np.float32) - cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), 1.5)
    strength = float(detail.std())
    noise = np.random.default_rng(seed).normal(0, strength, (canvas_h, canvas_w, 1)).astype(np.float32)
    grain = np.asarray(cv2.GaussianBlur(noise, (0, 0), 0.7), np.float32).reshape(canvas_h, canvas_w, 1)
    result += grain * np.clip(wanted / 3, 0, 1)[..., None]
    out = np.clip(result + 0.5, 0, 255).astype(np.uint8)
    out[top : top + height, left : left + width] = rgb  # the original, exactly
    return out
