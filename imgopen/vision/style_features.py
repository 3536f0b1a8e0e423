"""Image statistics that tell drawing styles apart without a neural model: how colourful, how many
colours, how flat, how noisy, how much paper shows, how thin the strokes are, and whether the
picture is built of equal square blocks (pixel art).

Measured on a copy whose longer side is at most 512 pixels (area-averaged), except the block grid,
which needs the original pixels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

WORK_SIDE = 512
GRID_SIDE = 1024  # the block grid is measured on at most this many pixels per side (a centre crop)
MAX_BLOCK = 32


@dataclass(frozen=True)
class StyleFeatures:
    chroma: float  # mean of max(R,G,B) - min(R,G,B), 0..1: about 0 for greyscale pictures
    saturation: float  # mean HSV saturation of pixels that are not near black, 0..1
    palette8: float  # share of pixels in the 8 commonest colours (4 bits per channel)
    palette32: float  # share of pixels in the 32 commonest colours
    flat: float  # share of pixels whose 3x3 neighbourhood has no visible change
    noise: float  # estimated noise sigma of the grey picture (0..255 scale)
    edges: float  # share of Canny edge pixels
    paper: float  # share of near-white, colourless pixels
    ink: float  # share of dark pixels (grey < 80)
    midtones: float  # share of the non-paper pixels that are neither dark nor near white
    stroke_width: float  # median width in pixels of the dark strokes (0 when there are none)
    grid: float  # 0..1: how exactly the picture's changes fall on a block grid of 2 px or more
    block: int  # that grid's block size in pixels (1 when there is none)
    smooth: float  # share of the changing pixels whose change is gentle (shading, not detail)
    texture: float  # mean fine-scale energy (grey minus its 3x3 median), 0..255 scale


def _working_copy(image: Image.Image) -> NDArray[np.uint8]:
    rgb = image.convert("RGB")
    scale = WORK_SIDE / max(rgb.size)
    if scale < 1:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BOX)
    return np.asarray(rgb, dtype=np.uint8)


def _palette_shares(rgb: NDArray[np.uint8]) -> tuple[float, float]:
    quantised = (rgb >> 4).astype(np.int32)
    codes = (quantised[..., 0] << 8) | (quantised[..., 1] << 4) | quantised[..., 2]
    counts = np.sort(np.bincount(codes.ravel(), minlength=4096))[::-1]
    total = float(codes.size)
    return float(counts[:8].sum() / total), float(counts[:32].sum() / total)


def _flat_share(rgb: NDArray[np.uint8], grey: NDArray[np.float32]) -> float:
    """Share of the mid-tone pixels whose 3x3 neighbourhood varies by at most 3 levels in every
    channel. Near-black and near-white pixels are left out: clipped shadows and skies are flat in
    photographs too, and paper is measured on its own."""
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(rgb, kernel) - cv2.erode(rgb, kernel)
    flat = spread.max(axis=2) <= 3
    mid = (grey > 30) & (grey < 235)
    return float(flat[mid].mean()) if mid.sum() > 256 else float(flat.mean())


def _noise_sigma(grey: NDArray[np.float32]) -> float:
    """Noise of the finest wavelet band (median absolute deviation of the diagonal Haar detail),
    on the pixels whose neighbourhood is not an edge: sensor grain survives there, drawings are clean."""
    rows, cols = grey.shape[0] // 2 * 2, grey.shape[1] // 2 * 2
    g = grey[:rows, :cols]
    diagonal = (g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]) / 2
    horizontal = np.abs(g[0::2, 0::2] + g[1::2, 0::2] - g[0::2, 1::2] - g[1::2, 1::2]) / 2
    vertical = np.abs(g[0::2, 0::2] + g[0::2, 1::2] - g[1::2, 0::2] - g[1::2, 1::2]) / 2
    quiet = (horizontal < 8) & (vertical < 8)
    values = np.abs(diagonal[quiet]) if quiet.sum() > 64 else np.abs(diagonal.ravel())
    # The mean, not the median: 8-bit pixels make the median jump in steps of 0.5.
    return float(values.mean() * np.sqrt(np.pi / 2))


def _stroke_width(ink: NDArray[np.bool_]) -> float:
    """Median stroke width of the dark pixels: twice the distance to the nearest light pixel at the
    strokes' centre lines."""
    if ink.sum() < 50:
        return 0.0
    distance = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 3)
    ridge = (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8))) & ink
    widths = distance[ridge]
    return float(np.median(widths.astype(np.float64)) * 2) if widths.size else 0.0


def _axis_grid(changes: NDArray[np.float32]) -> tuple[float, int]:
    """Best (score, block) for change energy summed along one axis (see _phase_score). A larger
    block that fits as well explains the grid better: edges every 8 px also fit 2 and 4 px blocks."""
    scores = {block: _phase_score(changes, block) for block in range(2, min(MAX_BLOCK, changes.size // 4) + 1)}
    if not scores:
        return 0.0, 1
    best = max(scores.values())
    if best <= 0:
        return 0.0, 1
    return best, max(block for block, score in scores.items() if score >= best - 0.05)


def _block_grid(image: Image.Image) -> tuple[float, int]:
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    height, width = rgb.shape[:2]
    top, left = max(0, (height - GRID_SIDE) // 2), max(0, (width - GRID_SIDE) // 2)
    rgb = rgb[top : top + GRID_SIDE, left : left + GRID_SIDE]
    if min(rgb.shape[:2]) < 16:
        return 0.0, 1
    # Only clear changes count: JPEG ringing and gentle gradients are not block edges.
    across = np.abs(np.diff(rgb, axis=1)).sum(axis=2)
    down = np.abs(np.diff(rgb, axis=0)).sum(axis=2)
    across = np.where(across > 48, across, 0).sum(axis=0).astype(np.float32)
    down = np.where(down > 48, down, 0).sum(axis=1).astype(np.float32)
    # Position p of the diff arrays is the change between pixels p and p + 1: a block edge when
    # (p + 1) % block == offset; the shift by one does not change which phase wins.
    score_x, block_x = _axis_grid(across)
    score_y, block_y = _axis_grid(down)
    if block_x != block_y:
        block = min(block_x, block_y)
        score_x = _phase_score(across, block)
        score_y = _phase_score(down, block)
    else:
        block = block_x
    return float(min(score_x, score_y)), block


def _phase_score(changes: NDArray[np.float32], block: int) -> float:
    """The share of the change energy on positions p with p % block == offset (the best offset),
    rescaled so chance (1 / block) is 0 and all of it on one phase is 1."""
    total = float(changes.sum())
    if total <= 0 or block < 2:
        return 0.0
    phases = np.bincount(np.arange(changes.size) % block, weights=changes, minlength=block)
    return float((phases.max() / total - 1 / block) / (1 - 1 / block))


def measure(image: Image.Image) -> StyleFeatures:
    rgb = _working_copy(image)
    as_float = rgb.astype(np.float32)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    chroma_map = (as_float.max(axis=2) - as_float.min(axis=2)) / 255
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    lit = hsv[..., 2] > 40
    saturation = float(hsv[..., 1][lit].mean() / 255) if lit.any() else 0.0
    palette8, palette32 = _palette_shares(rgb)
    paper = (grey > 225) & (chroma_map < 0.08)
    ink = grey < 80
    non_paper = ~paper
    midtones = non_paper & ~ink & (grey <= 225)
    edges = cv2.Canny(grey.astype(np.uint8), 60, 150) > 0
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    changing = magnitude > 4
    smooth = float(((magnitude < 40) & changing).sum() / max(1, changing.sum()))
    median = cv2.medianBlur(grey.astype(np.uint8), 3).astype(np.float32)
    grid, block = _block_grid(image)
    return StyleFeatures(
        chroma=float(chroma_map.mean()),
        saturation=saturation,
        palette8=palette8,
        palette32=palette32,
        flat=_flat_share(rgb, grey),
        noise=_noise_sigma(grey),
        edges=float(edges.mean()),
        paper=float(paper.mean()),
        ink=float(ink.mean()),
        midtones=float(midtones.sum() / max(1, non_paper.sum())),
        stroke_width=_stroke_width(ink),
        grid=grid,
        block=block,
        smooth=smooth,
        texture=float(np.abs(grey - median).mean()),
    )
