"""Maps that keep colour rather than shape: shuffle (content shuffle), tile (tile_resample), color
(the T2I-Adapter colour grid)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from imgopen.vision.control.settings import ControlMap, PreprocessSettings, rgb_array


def shuffle(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """The image's colours and textures scattered by a smooth random warp, so a ControlNet takes its
    style without its layout. thresholdA: the seed (default 0: the same shuffle every time)."""
    rgb = rgb_array(image, settings.resolution)
    height, width = rgb.shape[:2]
    rng = np.random.default_rng(int(settings.a(0, 0, 2**31 - 1)))
    # Coarse random coordinates (an 8x8 grid) blown up smoothly: every output pixel samples a
    # random, slowly varying place of the source.
    coarse = rng.random((8, 8, 2)).astype(np.float32)
    fine = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    map_x = np.clip(fine[..., 0], 0, 1) * (width - 1)
    map_y = np.clip(fine[..., 1], 0, 1) * (height - 1)
    warped = cv2.remap(rgb, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR)
    return ControlMap(Image.fromarray(warped), "random-flow-shuffle")


def tile(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """tile_resample: the image at a lower resolution (thresholdA: down-sampling rate 1..8,
    default 1), scaled back up; the tile ControlNet re-invents the detail that is lost."""
    rgb = rgb_array(image, settings.resolution)
    height, width = rgb.shape[:2]
    rate = settings.a(1.0, 1.0, 8.0)
    if rate > 1:
        size = (max(1, round(width / rate)), max(1, round(height / rate)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        rgb = np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), np.uint8)
    return ControlMap(Image.fromarray(rgb), "resample" if rate > 1 else "identity")


def color(image: Image.Image, settings: PreprocessSettings) -> ControlMap:
    """A grid of flat colour cells, 64x smaller than the map (the colour T2I-Adapter's input)."""
    rgb = rgb_array(image, settings.resolution)
    height, width = rgb.shape[:2]
    cells = cv2.resize(rgb, (max(1, width // 64), max(1, height // 64)), interpolation=cv2.INTER_CUBIC)
    grid = cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST)
    return ControlMap(Image.fromarray(grid), "colour-grid")
