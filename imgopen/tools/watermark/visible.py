"""Visible marks: text (outlined so it reads on any background) or an image, placed at one of
nine positions or tiled, blended with an opacity."""

from __future__ import annotations

from typing import Literal

from PIL import Image, ImageColor, ImageDraw, ImageFont

Position = Literal[
    "topLeft", "top", "topRight", "left", "center", "right", "bottomLeft", "bottom", "bottomRight", "tile"
]


def parse_color(value: str) -> tuple[int, int, int]:
    rgb = ImageColor.getrgb(value)
    return rgb[0], rgb[1], rgb[2]


def render_text(text: str, font_size: int, color: tuple[int, int, int]) -> Image.Image:
    """The text on a transparent tile, with an outline in the contrasting shade."""
    font = ImageFont.load_default(size=font_size)
    stroke = max(1, font_size // 16)
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    outline = (0, 0, 0) if luminance > 127 else (255, 255, 255)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox(
        (0, 0), text, font=font, stroke_width=stroke
    )
    tile = Image.new("RGBA", (int(right - left), int(bottom - top)), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text(
        (-left, -top), text, font=font, fill=(*color, 255), stroke_width=stroke, stroke_fill=(*outline, 255)
    )
    return tile


def scale_mark(mark: Image.Image, base_width: int, relative_width: float) -> Image.Image:
    width = max(1, round(base_width * relative_width))
    height = max(1, round(mark.height * width / mark.width))
    return mark.convert("RGBA").resize((width, height), Image.Resampling.LANCZOS)


_PLACES: dict[str, tuple[str, str]] = {
    "topLeft": ("left", "top"),
    "top": ("center", "top"),
    "topRight": ("right", "top"),
    "left": ("left", "center"),
    "center": ("center", "center"),
    "right": ("right", "center"),
    "bottomLeft": ("left", "bottom"),
    "bottom": ("center", "bottom"),
    "bottomRight": ("right", "bottom"),
}


def _anchor(position: Position, size: tuple[int, int], mark: tuple[int, int], margin: int) -> tuple[int, int]:
    (w, h), (mw, mh) = size, mark
    horizontal, vertical = _PLACES[position]
    xs = {"left": margin, "center": (w - mw) // 2, "right": w - mw - margin}
    ys = {"top": margin, "center": (h - mh) // 2, "bottom": h - mh - margin}
    return xs[horizontal], ys[vertical]


def apply(image: Image.Image, mark: Image.Image, position: Position, opacity: float, margin: int) -> Image.Image:
    """`image` with `mark` (RGBA) blended on at `position`, alpha scaled by `opacity`."""
    base = image.convert("RGBA")
    faded = mark.copy()
    faded.putalpha(faded.getchannel("A").point(lambda a: round(a * opacity)))
    # Pasted without a mask: the layer takes the mark's own alpha (marks never overlap), and one
    # alpha_composite blends it; pasting with the mark as mask would apply its alpha twice.
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    if position == "tile":
        step_x, step_y = mark.width + max(margin, mark.width // 2), mark.height + max(margin, mark.height)
        for row, y in enumerate(range(margin, base.height, step_y)):
            offset = (step_x // 2) * (row % 2)
            for x in range(margin - offset, base.width, step_x):
                layer.paste(faded, (x, y))
    else:
        layer.paste(faded, _anchor(position, base.size, faded.size, margin))
    out = Image.alpha_composite(base, layer)
    return out if image.mode == "RGBA" else out.convert("RGB")
