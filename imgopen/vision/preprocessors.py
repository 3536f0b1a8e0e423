"""ControlNet preprocessors: one registry used by both the SD controlnet endpoint (`module`) and
the cnt/preview tool. Each takes an RGB image and the unit's settings and returns the control map."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class PreprocessSettings:
    resolution: int = 512
    threshold_a: float | None = None
    threshold_b: float | None = None


Preprocessor = Callable[[Image.Image, PreprocessSettings], Image.Image]


def _at_resolution(image: Image.Image, resolution: int) -> Image.Image:
    """Scale so the shorter side is `resolution` (as the preprocessors of sd-webui-controlnet)."""
    scale = resolution / min(image.size)
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)


def canny(image: Image.Image, settings: PreprocessSettings) -> Image.Image:
    low = int(settings.threshold_a if settings.threshold_a is not None else 100)
    high = int(settings.threshold_b if settings.threshold_b is not None else 200)
    grey = cv2.cvtColor(np.asarray(_at_resolution(image, settings.resolution).convert("RGB")), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, low, high)
    return Image.fromarray(edges).convert("RGB")


def invert(image: Image.Image, settings: PreprocessSettings) -> Image.Image:
    pixels = np.asarray(_at_resolution(image, settings.resolution).convert("RGB"))
    return Image.fromarray(255 - pixels)


def passthrough(image: Image.Image, settings: PreprocessSettings) -> Image.Image:
    return image.convert("RGB")


PREPROCESSORS: dict[str, Preprocessor] = {
    "none": passthrough,
    "canny": canny,
    "invert": invert,
}
ALIASES = {"invert (from white bg & black line)": "invert"}


def get_preprocessor(name: str) -> Preprocessor | None:
    key = name.strip().lower()
    return PREPROCESSORS.get(ALIASES.get(key, key))
