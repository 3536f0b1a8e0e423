"""An invisible text mark with invisible-watermark's dwtDctSvd method, readable without knowing
its length, and corrected when JPEG flipped a few bits.

- Framing: a length byte, the UTF-8 text and a CRC-32, zero-padded to one of a few frame sizes.
  The decoder tries each size and keeps the frame whose CRC matches.
- Spreading: dwtDctSvd writes bit i of an L-bit string into every block whose index is i mod L.
  With L a power of two, each bit lands in the same few block columns (the blocks of a row are a
  power of two on most images) and a flat stripe of the picture can ruin it. Prime lengths
  spread every bit over the whole image.
- Soft decoding: the decoder reads each bit's vote share (how many of its blocks say 1) instead
  of only the majority, and when the CRC fails it retries with the least certain bits flipped
  (Chase decoding); the CRC-32 keeps the chance of a false "found" negligible.

Capacity follows the image size: each bit needs enough blocks (4x4 on the half-size U plane,
so one per 8x8 pixels) to outvote JPEG's damage. Measured on scikit-image photographs resized
from 240 to 512 px, after JPEG quality 85: every frame with at least 20 blocks per bit read back
(failures appeared at 15.8 and below). So a 512x512 image carries up to 19 bytes of text, a
300x300 image 3 bytes.
"""

from __future__ import annotations

import itertools
import zlib
from functools import cache

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imgopen.tools.watermark.capacity import FRAME_BITS, MAX_TEXT_BYTES, capacity, check_text

__all__ = ["MAX_TEXT_BYTES", "METHOD", "capacity", "check_text", "embed", "extract"]

CHASE_BITS = 12
METHOD = "dwtDctSvd"
_SCALES = [0, 36, 0]  # the package's default for dwtDctSvd: the U channel, step 36


def _frame(text: str, width: int, height: int) -> bytes:
    check_text(text, width, height)
    payload = text.encode("utf-8")
    size = next(s for s in FRAME_BITS if len(payload) + 5 <= s)
    crc = zlib.crc32(payload).to_bytes(4, "big")
    return (bytes([len(payload)]) + payload + crc).ljust(size, b"\0")


def _unframe(frame: bytes) -> str | None:
    length = frame[0]
    if length == 0 or length + 5 > len(frame) or any(frame[5 + length :]):
        return None
    payload, crc = frame[1 : 1 + length], frame[1 + length : 5 + length]
    if zlib.crc32(payload).to_bytes(4, "big") != crc:
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _bgr(image: Image.Image) -> NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR), dtype=np.uint8)


def embed(image: Image.Image, text: str) -> Image.Image:
    """The RGB image with `text` hidden in it."""
    from imwatermark import WatermarkEncoder  # imports torch: only when used

    frame = _frame(text, image.width, image.height)
    bits = np.unpackbits(np.frombuffer(frame, np.uint8)).tolist()
    bits += [0] * (FRAME_BITS[len(frame)] - len(bits))
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", bits)
    marked = encoder.encode(_bgr(image), METHOD, scales=_SCALES)
    return Image.fromarray(cv2.cvtColor(marked, cv2.COLOR_BGR2RGB))


def _vote_shares(bgr: NDArray[np.uint8], length: int) -> NDArray[np.float64]:
    """Per bit, the share of its blocks that read 1 (the package's decoder keeps only > 0.5)."""
    import pywt
    from imwatermark.dwtDctSvd import EmbedDwtDctSvd

    reader = EmbedDwtDctSvd(watermarks=[], wmLen=length, scales=_SCALES)
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    u_channel = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)[:rows, :cols, 1]
    approximation, _details = pywt.dwt2(u_channel, "haar")
    scores: list[list[float]] = reader.decode_frame(approximation, _SCALES[1], [[] for _ in range(length)])
    return np.array([np.mean(votes) if votes else 0.5 for votes in scores])


@cache
def _flip_patterns(count: int) -> list[tuple[int, ...]]:
    """Subsets of `count` positions, fewest flips first."""
    return [combo for k in range(count + 1) for combo in itertools.combinations(range(count), k)]


def extract(image: Image.Image) -> str | None:
    """The hidden text, or None when no frame with a valid CRC is found."""
    if image.width * image.height < 256 * 256:
        return None  # too small to have been marked
    bgr = _bgr(image)
    for size, length in FRAME_BITS.items():
        shares = _vote_shares(bgr, length)[: size * 8]
        hard = shares > 0.5
        doubtful = np.argsort(np.abs(shares - 0.5))[:CHASE_BITS]
        for pattern in _flip_patterns(CHASE_BITS):
            bits = hard.copy()
            for index in pattern:
                bits[doubtful[index]] = not bits[doubtful[index]]
            text = _unframe(np.packbits(bits).tobytes())
            if text is not None:
                return text
    return None
