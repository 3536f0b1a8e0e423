"""Checks the face tools share: images that cannot hold a face, and the fidelityWeight string."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext

MIN_SIDE = 16  # a face needs at least this many pixels each way (lfw_subset's crops are 25 px)


def check_sizes(sizes: Mapping[str, tuple[int, int]]) -> None:
    """At submit: every image big enough to hold a face."""
    for field, (width, height) in sizes.items():
        if min(width, height) < MIN_SIDE:
            raise ImgOpenError(
                "400", f"{field}: {width}x{height} is too small to hold a face (at least {MIN_SIDE}x{MIN_SIDE})"
            )


def load_rgb(ctx: TaskContext, ref: str, field: str) -> NDArray[np.uint8]:
    """The image as an RGB array, refused when it is blank or a mask (no photo, so no face)."""
    rgb = np.ascontiguousarray(np.asarray(ctx.image(ref, field, mode="RGB"), np.uint8))
    check_sizes({field: (rgb.shape[1], rgb.shape[0])})
    # A sample of the pixels is enough to tell a flat image or a two-level mask from a photo, and
    # keeps this check under a millisecond on large images.
    step = max(1, min(rgb.shape[0], rgb.shape[1]) // 256)
    sample = rgb[::step, ::step]
    if float(sample.std(axis=(0, 1)).max()) < 2.0:
        raise ImgOpenError("400", f"{field}: the image is blank (one flat colour), so it has no face")
    grey = sample[..., 0]
    if np.array_equal(grey, sample[..., 1]) and np.array_equal(grey, sample[..., 2]) and len(np.unique(grey)) <= 2:
        raise ImgOpenError("400", f"{field}: the image is a black-and-white mask, not a photo, so it has no face")
    return rgb


def no_face(field: str) -> ImgOpenError:
    return ImgOpenError("400", f"no face found in {field}")


def parse_fidelity(value: object) -> float:
    """fidelityWeight arrives as a string ("0".."1") in the hosted API; numbers are taken too."""
    if isinstance(value, bool):
        raise ValueError("must be a number from 0 to 1, as a string such as '0.5'")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number: give one from 0 to 1, such as '0.5'") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{value!r} is out of range: give a number from 0 to 1")
    return number
