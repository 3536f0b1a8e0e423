"""format_of: the format from the leading bytes agrees with Pillow's reading of the header, for every
accepted format; anything else is read by the header check (a non-image is still a 422)."""

from __future__ import annotations

import io

import pytest

from imgopen.errors import ImgOpenError
from imgopen.media.decode import check_header, format_of
from imgopen.testing.images import astronaut


@pytest.mark.parametrize(
    ("save_as", "mode"),
    [("PNG", "RGB"), ("JPEG", "RGB"), ("WEBP", "RGB"), ("GIF", "P"), ("BMP", "RGB"), ("TIFF", "RGB")],
)
def test_the_leading_bytes_tell_what_the_header_tells(save_as: str, mode: str) -> None:
    buffer = io.BytesIO()
    astronaut().resize((32, 24)).convert(mode).save(buffer, format=save_as)
    data = buffer.getvalue()
    assert format_of(data, "image", 10**8) == check_header(data, "image", 10**8)[0] == save_as


def test_a_big_endian_tiff_and_an_unknown_start() -> None:
    buffer = io.BytesIO()
    astronaut().resize((16, 16)).save(buffer, format="TIFF")
    little = buffer.getvalue()
    assert little.startswith(b"II*\x00")
    assert format_of(b"MM\x00*" + little[4:], "image", 10**8) == "TIFF"
    with pytest.raises(ImgOpenError) as refused:
        format_of(b"%PDF-1.7 not an image", "sourceImage", 10**8)
    assert refused.value.code == "422" and "sourceImage" in refused.value.msg
