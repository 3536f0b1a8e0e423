"""Hair colour names hair/change accepts besides CSS colours and #RRGGBB: natural shades and common
dyes, each as the mid-tone a head of that colour shows in a photograph."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import ImageColor

from imgopen.tools.people.colors import RGB, parse_css_color

HAIR_COLORS: dict[str, RGB] = {
    "black": (28, 24, 24),
    "soft black": (44, 38, 36),
    "dark brown": (59, 40, 30),
    "brown": (94, 62, 40),
    "chestnut": (112, 60, 36),
    "light brown": (140, 100, 68),
    "auburn": (130, 52, 34),
    "copper": (178, 88, 44),
    "ginger": (190, 96, 46),
    "red": (160, 38, 32),
    "burgundy": (104, 24, 40),
    "strawberry blonde": (206, 142, 100),
    "honey blonde": (196, 150, 88),
    "golden blonde": (214, 174, 102),
    "blonde": (222, 190, 130),
    "ash blonde": (196, 182, 154),
    "platinum blonde": (232, 224, 206),
    "grey": (150, 148, 146),
    "silver": (192, 192, 196),
    "white": (236, 234, 230),
    "pink": (232, 130, 170),
    "pastel pink": (240, 182, 198),
    "rose gold": (214, 150, 134),
    "purple": (112, 52, 150),
    "lavender": (176, 150, 210),
    "blue": (44, 84, 170),
    "teal": (30, 128, 132),
    "green": (52, 130, 72),
}
# Other spellings people type.
_ALIASES = {"blond": "blonde", "gray": "grey", "platinum blond": "platinum blonde", "golden blond": "golden blonde"}
COLOR_NAMES = tuple(HAIR_COLORS)


def hair_color(value: str) -> RGB:
    """A hair colour name, a CSS colour name or #RRGGBB; ValueError when it is none of them."""
    text = " ".join(value.strip().lower().replace("_", " ").replace("-", " ").split())
    return parse_css_color(_ALIASES.get(text, text), HAIR_COLORS)


def color_words(value: str) -> str:
    """How to say the colour in a prompt: its own name, else the nearest hair colour's."""
    text = " ".join(value.strip().lower().replace("_", " ").replace("-", " ").split())
    text = _ALIASES.get(text, text)
    if text in HAIR_COLORS or text in ImageColor.colormap:
        return text
    target = _lab(hair_color(value))
    names = list(HAIR_COLORS)
    distances = [float(np.linalg.norm(_lab(HAIR_COLORS[name]) - target)) for name in names]
    return names[int(np.argmin(distances))]


def _lab(rgb: RGB) -> NDArray[np.float32]:
    # Imported here: the names and hair_color() are read at submit by the API, which loads no OpenCV.
    import cv2

    pixel = np.asarray([[rgb]], np.float32) / 255
    return np.asarray(cv2.cvtColor(pixel, cv2.COLOR_RGB2Lab)[0, 0], np.float32)
