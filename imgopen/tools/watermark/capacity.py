"""How much text the invisible mark carries on an image of a given size (see invisible.py for why):
arithmetic only, so the API checks invisibleText at submit without loading an image library."""

from __future__ import annotations

from imgopen.errors import ImgOpenError

# frame bytes -> bits embedded (the next prime above the frame's bits)
FRAME_BITS = {8: 67, 16: 131, 24: 197}
MAX_TEXT_BYTES = max(FRAME_BITS) - 5
MIN_VOTES = 20  # blocks per embedded bit


def _frame_sizes(width: int, height: int) -> list[int]:
    """Frame sizes (bytes) this image can carry robustly."""
    blocks = (width // 8) * (height // 8)
    return [size for size, bits in FRAME_BITS.items() if bits * MIN_VOTES <= blocks]


def capacity(width: int, height: int) -> int:
    """Bytes of UTF-8 text an image of this size carries through JPEG quality 85 (0: none)."""
    sizes = _frame_sizes(width, height)
    return max(sizes) - 5 if sizes else 0


def check_text(text: str, width: int, height: int, field: str = "invisibleText") -> None:
    room, used = capacity(width, height), len(text.encode("utf-8"))
    if room == 0:
        raise ImgOpenError(
            "400", f"sourceImage: {width}x{height} is too small for an invisible watermark (about 300x300 at least)"
        )
    if used > room:
        raise ImgOpenError(
            "400",
            f"{field}: {used} bytes in UTF-8, but a {width}x{height} image carries at most {room} bytes "
            f"through JPEG (a 512x512 image carries {MAX_TEXT_BYTES})",
        )
