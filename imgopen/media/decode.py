"""Decode untrusted image bytes: formats, pixel limits, bombs, truncation, EXIF rotation."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from imgopen.errors import ImgOpenError

# Formats a client may send; other Pillow plugins (some rarely audited) are never tried.
_ORIENTATION = 0x0112
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG includes MPO
Image.init()  # registers WEBP and TIFF too; Image.open(formats=...) only pre-registers five


@dataclass(frozen=True)
class Decoded:
    image: Image.Image
    format: str


# Leading bytes of the accepted formats: the format of a file that is about to be decoded anyway,
# without parsing its header twice (0.15 ms for a PNG of 512x512).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def format_of(data: bytes, what: str, max_pixels: int) -> str:
    """The format of an image about to be decoded, from its leading bytes where they are one of
    the accepted formats' (decode_image then checks the rest); else from its header (check_header)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for signature, fmt in _SIGNATURES:
        if data.startswith(signature):
            return fmt
    return check_header(data, what, max_pixels)[0]


def check_header(data: bytes, what: str, max_pixels: int) -> tuple[str, int, int]:
    """(format, width, height) read from the header alone; 413 over the pixel limit, 422 for non-images."""
    image = _open(data, what, max_pixels)
    return str(image.format), image.width, image.height


def decode_image(data: bytes, what: str, max_pixels: int) -> Decoded:
    """Fully decoded image, EXIF orientation applied (first frame of an animation)."""
    image = _open(data, what, max_pixels)
    fmt = str(image.format)
    try:
        image.load()
        # exif_transpose copies the image even when it has nothing to turn: ask first.
        upright = ImageOps.exif_transpose(image) if image.getexif().get(_ORIENTATION, 1) != 1 else image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError) as exc:
        raise ImgOpenError("422", f"{what}: the {fmt} image is truncated or corrupt ({exc})") from exc
    return Decoded(upright if upright is not None else image, fmt)


def _open(data: bytes, what: str, max_pixels: int) -> Image.Image:
    if not data:
        raise ImgOpenError("422", f"{what}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImgOpenError("413", f"{what}: image has too many pixels ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImgOpenError(
            "422", f"{what}: not an image in a supported format ({', '.join(ACCEPTED_FORMATS)})"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImgOpenError("422", f"{what}: could not read the image header ({exc})") from exc
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise ImgOpenError(
            "413",
            f"{what}: image is {image.width}x{image.height} = {pixels / 1e6:.1f} megapixels, "
            f"over the limit of {max_pixels / 1e6:g}",
        )
    if image.width < 1 or image.height < 1:
        raise ImgOpenError("422", f"{what}: image has no pixels")
    return image
