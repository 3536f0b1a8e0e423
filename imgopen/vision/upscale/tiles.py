"""Running a super-resolution network over an image in tiles, so memory stays bounded by the tile
size whatever the image size.

Each tile is cut with `pad` pixels of real context on every side (clamped at the image border),
run, and only its centre is kept. A convolutional network's output at a pixel depends only on the
inputs within its receptive field; when `pad` covers it, a tiled run equals the whole-image run up
to floating-point rounding, and there is no seam to blend away. For very deep networks (RRDBNet)
the receptive field is larger than any practical pad, but the influence of far pixels is tiny, so
seams stay below one grey level in practice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

# (3, h, w) float32 RGB in [0, 1] -> (3, h * scale, w * scale) float32, nominally in [0, 1].
TileNetwork = Callable[[NDArray[np.float32]], NDArray[np.float32]]
Progress = Callable[[float], None]


def tile_boxes(height: int, width: int, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """(top, left, bottom, right) of the tiles that cover the image, row by row."""
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            yield top, left, min(top + tile, height), min(left + tile, width)


def to_uint8(chw: NDArray[np.float32]) -> NDArray[np.uint8]:
    """CHW floats in [0, 1] -> HWC bytes, rounded to nearest."""
    return (np.clip(chw, 0.0, 1.0).transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)


def upscale_tiled(
    rgb: NDArray[np.uint8],
    scale: int,
    network: TileNetwork,
    tile: int,
    pad: int,
    progress: Progress | None = None,
) -> NDArray[np.uint8]:
    """`rgb` (h, w, 3) enlarged `scale` times by `network`, tile by tile (see the module doc)."""
    height, width = rgb.shape[:2]
    out = np.empty((height * scale, width * scale, 3), np.uint8)
    boxes = list(tile_boxes(height, width, tile))
    for index, (top, left, bottom, right) in enumerate(boxes):
        ctop, cleft = max(0, top - pad), max(0, left - pad)
        cbottom, cright = min(height, bottom + pad), min(width, right + pad)
        # Converted per tile: a float copy of the whole input would cost 4x its size again.
        chw = np.ascontiguousarray(rgb[ctop:cbottom, cleft:cright].transpose(2, 0, 1), np.float32) / np.float32(255)
        result = network(chw)
        expected = (3, (cbottom - ctop) * scale, (cright - cleft) * scale)
        if result.shape != expected:
            raise ValueError(f"the upscaler returned {result.shape} for a tile needing {expected}")
        y0, x0 = (top - ctop) * scale, (left - cleft) * scale
        centre = result[:, y0 : y0 + (bottom - top) * scale, x0 : x0 + (right - left) * scale]
        out[top * scale : bottom * scale, left * scale : right * scale] = to_uint8(centre)
        if progress is not None:
            progress((index + 1) / len(boxes))
    return out
