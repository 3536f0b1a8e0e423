"""Everyday colour names for measured colours: a table of names with a representative sRGB value
each (chosen for imgopen), matched by distance in CIELAB, where distances follow what people see."""

from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np
from numpy.typing import NDArray

# name -> representative sRGB. Several entries may share a name (a dark and a light olive both
# read as "olive"), which widens the region the name covers.
COLOUR_TABLE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("black", (12, 12, 12)),
    ("charcoal", (54, 57, 62)),
    ("dark grey", (90, 90, 92)),
    ("grey", (134, 134, 136)),
    ("silver", (186, 188, 192)),
    ("white", (246, 246, 244)),
    ("cream", (243, 232, 200)),
    ("beige", (214, 196, 160)),
    ("tan", (196, 160, 116)),
    ("khaki", (168, 158, 110)),
    ("brown", (122, 78, 44)),
    ("dark brown", (70, 44, 28)),
    ("chocolate", (98, 56, 34)),
    ("maroon", (112, 24, 36)),
    ("dark red", (150, 20, 26)),
    ("red", (212, 36, 38)),
    ("crimson", (186, 20, 60)),
    ("coral", (246, 122, 100)),
    ("salmon", (240, 150, 130)),
    ("peach", (250, 196, 160)),
    ("orange", (238, 130, 30)),
    ("rust", (176, 80, 34)),
    ("amber", (250, 176, 20)),
    ("gold", (212, 172, 52)),
    ("mustard", (200, 162, 40)),
    ("yellow", (248, 226, 50)),
    ("pale yellow", (250, 240, 160)),
    ("olive", (110, 110, 40)),
    ("olive", (140, 140, 70)),
    ("lime green", (150, 210, 60)),
    ("green", (56, 150, 60)),
    ("dark green", (26, 80, 40)),
    ("forest green", (40, 96, 50)),
    ("sage", (150, 170, 130)),
    ("mint", (170, 230, 190)),
    ("teal", (20, 128, 128)),
    ("turquoise", (60, 200, 190)),
    ("cyan", (40, 210, 236)),
    ("sky blue", (130, 190, 236)),
    ("light blue", (176, 208, 232)),
    ("blue", (40, 90, 200)),
    ("royal blue", (50, 70, 180)),
    ("navy", (24, 34, 90)),
    ("slate blue", (90, 110, 150)),
    ("indigo", (60, 40, 120)),
    ("purple", (120, 50, 150)),
    ("violet", (150, 90, 200)),
    ("lavender", (190, 170, 220)),
    ("magenta", (210, 40, 160)),
    ("pink", (240, 150, 190)),
    ("hot pink", (240, 80, 150)),
    ("pale pink", (246, 206, 214)),
    ("plum", (110, 50, 90)),
    ("skin tone", (224, 172, 140)),
)


def to_lab(rgb: NDArray[np.uint8] | NDArray[np.float32]) -> NDArray[np.float32]:
    """(..., 3) sRGB 0..255 -> CIELAB (L 0..100)."""
    flat = np.asarray(rgb, np.float32).reshape(-1, 1, 3) / 255
    lab = cv2.cvtColor(flat, cv2.COLOR_RGB2Lab)
    return np.asarray(lab.reshape(np.shape(rgb)), np.float32)


class ColourNamer:
    """Nearest name in COLOUR_TABLE for any sRGB colour."""

    @cached_property
    def _table_lab(self) -> NDArray[np.float32]:
        return to_lab(np.array([rgb for _name, rgb in COLOUR_TABLE], np.float32))

    def name(self, rgb: tuple[int, int, int] | NDArray[np.float32]) -> str:
        lab = to_lab(np.asarray(rgb, np.float32).reshape(1, 3))[0]
        distances = np.linalg.norm(self._table_lab - lab, axis=1)
        return COLOUR_TABLE[int(np.argmin(distances))][0]


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
