"""Colour fields: CSS colour names, #RGB / #RRGGBB, rgb(...) and hsl(...), as browsers read them."""

from __future__ import annotations

from PIL import ImageColor

RGB = tuple[int, int, int]


def parse_css_color(value: str, extra: dict[str, RGB] | None = None) -> RGB:
    """The colour's RGB; ValueError (a "400" naming the field, from a validator) when it is none."""
    text = value.strip().lower()
    if extra and text in extra:
        return extra[text]
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a colour; give a CSS colour name (white, black, navy...) or #RRGGBB"
        ) from None
    return rgb[0], rgb[1], rgb[2]


def hex_color(rgb: RGB) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)
