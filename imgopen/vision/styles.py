"""The published list of picture styles identifyStyle answers with: names, CLIP zero-shot prompts and
Danbooru tags. Light (no image code): the API describes the tool with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str  # the label answered
    clip_prompts: tuple[str, ...]  # zero-shot prompts for CLIP (their text embeddings are averaged)
    booru_tag: str  # the Danbooru-style tag for the same style


STYLES: tuple[Style, ...] = (
    Style("photograph", ("a photograph", "a photo taken with a camera", "a colour photograph"), "photo (medium)"),
    Style(
        "black and white photograph",
        ("a black and white photograph", "a monochrome photo", "a greyscale photograph"),
        "monochrome photo",
    ),
    Style(
        "anime", ("an anime illustration", "a frame from an anime", "a manga style drawing in colour"), "anime coloring"
    ),
    Style(
        "illustration",
        ("a flat vector illustration", "a flat colour illustration", "a clean digital illustration"),
        "flat color",
    ),
    Style("3D render", ("a 3D render", "a computer generated 3D image", "a CGI rendering"), "3d"),
    Style("oil painting", ("an oil painting", "a painting on canvas with oil paints"), "oil painting (medium)"),
    Style("watercolour", ("a watercolour painting", "a watercolor painting on paper"), "watercolor (medium)"),
    Style("sketch", ("a pencil sketch", "a graphite drawing with shading"), "sketch"),
    Style("pixel art", ("pixel art", "a low resolution pixel art sprite"), "pixel art"),
    Style("line art", ("black and white line art", "an ink line drawing on white paper"), "lineart"),
)
STYLE_NAMES: tuple[str, ...] = tuple(style.name for style in STYLES)
