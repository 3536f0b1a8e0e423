"""What every preprocessor takes and gives. Light (no network code): map_size is checked at submit
by the API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.errors import ImgOpenError

if TYPE_CHECKING:
    from imgopen.vision.control.models import AnnotatorModels


@dataclass(frozen=True)
class PreprocessSettings:
    """A ControlNet unit's preprocessor settings (sd-webui-controlnet's names and meanings)."""

    resolution: int = 512  # the map's shorter side, in pixels
    threshold_a: float | None = None  # each preprocessor's first setting (None: its default)
    threshold_b: float | None = None
    models_dir: Path | None = None  # where depth weights are looked for
    models: AnnotatorModels | None = None  # loaded networks to reuse (None: loaded for this call)

    def a(self, default: float, low: float, high: float) -> float:
        value = default if self.threshold_a is None else self.threshold_a
        return float(min(high, max(low, value)))

    def b(self, default: float, low: float, high: float) -> float:
        value = default if self.threshold_b is None else self.threshold_b
        return float(min(high, max(low, value)))

    def networks(self) -> AnnotatorModels:
        if self.models is not None:
            return self.models
        from imgopen.vision.control.models import AnnotatorModels  # loads torch and MediaPipe

        return AnnotatorModels()


@dataclass(frozen=True)
class ControlMap:
    image: Image.Image  # RGB, the map the ControlNet sees
    method: str  # which backend made it
    pose: dict[str, Any] | None = None  # OpenPose JSON, for the pose preprocessors


def map_size(size: tuple[int, int], resolution: int) -> tuple[int, int]:
    """(w, h) of the map for an image of `size`: the shorter side `resolution`, the aspect kept."""
    scale = resolution / min(size)
    return max(8, round(size[0] * scale)), max(8, round(size[1] * scale))


def check_map_size(size: tuple[int, int], resolution: int, max_pixels: int, field: str) -> None:
    """ "400" naming `field` when the map of an image of `size` would be over `max_pixels`: the
    resolution sets the shorter side, so a long thin image would give a map of gigapixels."""
    width, height = map_size(size, resolution)
    if width * height > max_pixels:
        short = field.rsplit(".", 1)[-1]
        raise ImgOpenError(
            "400",
            f"{field}: the map would be {width}x{height}, over the limit of {max_pixels / 1e6:g} megapixels; give a "
            f"smaller {short}",
        )


def at_resolution(image: Image.Image, resolution: int) -> Image.Image:
    """RGB, scaled so the shorter side is `resolution` (as sd-webui-controlnet's preprocessors)."""
    scale = resolution / min(image.size)
    size = map_size(image.size, resolution)
    if size == image.size:
        return image.convert("RGB")
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)


def rgb_array(image: Image.Image, resolution: int) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.asarray(at_resolution(image, resolution)))


def grey_map(values: NDArray[Any]) -> Image.Image:
    """A one-channel map (bytes) as the RGB image ControlNets take."""
    return Image.fromarray(np.asarray(values, np.uint8)).convert("RGB")
