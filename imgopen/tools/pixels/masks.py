"""Masks for erase: read (white = remove; a transparent stroke layer counts by its opacity), checked
against the image, scaled when only its resolution differs, binarised and dilated."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from imgopen.errors import ImgOpenError

ASPECT_TOLERANCE = 0.01


def check_size(mask_size: tuple[int, int], image_size: tuple[int, int]) -> None:
    """A mask of the image's shape at another resolution (drawn on a preview) is scaled to fit;
    one of another shape cannot be placed without guessing: "400"."""
    if mask_size == image_size:
        return
    mask_ratio, image_ratio = mask_size[0] / mask_size[1], image_size[0] / image_size[1]
    if abs(mask_ratio / image_ratio - 1) > ASPECT_TOLERANCE:
        raise ImgOpenError(
            "400",
            f"maskImage: {mask_size[0]}x{mask_size[1]} does not match sourceImage {image_size[0]}x{image_size[1]}; "
            "give a mask of the same size (or the same aspect ratio, which is scaled to fit)",
        )


def to_binary(mask: Image.Image, size: tuple[int, int]) -> NDArray[np.bool_]:
    """True where the mask says remove: bright pixels, weighted by opacity when it has alpha."""
    check_size(mask.size, size)
    if mask.mode in ("RGBA", "LA", "PA") or "transparency" in mask.info:
        rgba = mask.convert("RGBA")
        grey = Image.new("L", mask.size, 0)
        grey.paste(rgba.convert("L"), mask=rgba.getchannel("A"))
    else:
        grey = mask.convert("L")
    if grey.size != size:
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey) > 127


def dilate(mask: NDArray[np.bool_], pixels: int) -> NDArray[np.bool_]:
    """Grown by `pixels` in every direction: covers the soft fringe and shadow edge of an object."""
    if pixels <= 0:
        return mask
    image = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * pixels + 1))
    return np.asarray(image) > 0


def default_dilation(size: tuple[int, int]) -> int:
    return max(3, round(min(size) * 0.008))


def checked(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    if not mask.any():
        raise ImgOpenError("400", "maskImage: the mask is empty (paint what to remove in white)")
    if mask.all():
        raise ImgOpenError("400", "maskImage: the mask covers the whole image; nothing is left to fill it from")
    return mask


def bounding_box(mask: NDArray[np.bool_]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the True pixels, right and bottom exclusive."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
