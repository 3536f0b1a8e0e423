"""Reading back the generation parameters an image carries (media/encode.py writes them as A1111
does), and A1111's infotext parsed into its fields (png-info)."""

from __future__ import annotations

import re
from typing import Any

from PIL import Image

_USER_COMMENT = 0x9286
_EXIF_IFD = 0x8769
# "Key: value" pairs of the last infotext line; a value may be a quoted string with commas.
_PAIR = re.compile(r'\s*([\w ./+-]+):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def read_parameters(image: Image.Image) -> str | None:
    """The parameters text: the PNG `parameters` chunk, or the EXIF UserComment (JPEG, WebP)."""
    text = image.info.get("parameters")
    if isinstance(text, str) and text:
        return text
    exif = image.getexif()
    # The Exif sub-IFD (where the standard puts it), or IFD0 (where imgopen wrote it before).
    comment = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT) or exif.get(_USER_COMMENT)
    if isinstance(comment, bytes):
        header, body = comment[:8], comment[8:]
        if header.startswith(b"UNICODE"):
            return body.decode("utf-16-be", "replace") or None
        return body.decode("utf-8", "replace") or None
    return str(comment) if comment else None


def parse_infotext(text: str) -> dict[str, Any]:
    """ "prompt\\nNegative prompt: ...\\nSteps: 20, Sampler: Euler a, ..." -> {"Prompt": ...,
    "Negative prompt": ..., "Steps": "20", "Sampler": "Euler a", ...} (values as written)."""
    lines = text.strip().split("\n")
    fields: dict[str, Any] = {}
    last = lines[-1] if lines and _PAIR.match(lines[-1]) and ":" in lines[-1] and "Steps:" in lines[-1] else None
    body = lines[:-1] if last is not None else lines
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for line in body:
        text_line = line
        if line.startswith("Negative prompt:"):
            target = negative
            text_line = line[len("Negative prompt:") :].strip()
        target.append(text_line)
    fields["Prompt"] = "\n".join(prompt).strip()
    fields["Negative prompt"] = "\n".join(negative).strip()
    if last is not None:
        for match in _PAIR.finditer(last):
            key, value = match.group(1).strip(), match.group(2).strip()
            if key:
                fields[key] = value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    return fields
