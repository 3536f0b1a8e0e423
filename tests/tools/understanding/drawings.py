"""Pictures with known styles, made here: line art, pixel art, flat illustrations, a pencil-like sketch."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def line_art(size: int = 512, seed: int = 0) -> Image.Image:
    """Black strokes on white paper: a face-like doodle, a house and loose curves (anti-aliased by
    drawing at twice the size)."""
    rng = np.random.default_rng(seed)
    big = size * 2
    image = Image.new("L", (big, big), 255)
    draw = ImageDraw.Draw(image)
    width = 6
    draw.ellipse((big * 0.1, big * 0.1, big * 0.45, big * 0.5), outline=0, width=width)
    draw.ellipse((big * 0.18, big * 0.22, big * 0.24, big * 0.28), outline=0, width=width)
    draw.ellipse((big * 0.31, big * 0.22, big * 0.37, big * 0.28), outline=0, width=width)
    draw.arc((big * 0.18, big * 0.28, big * 0.37, big * 0.42), 20, 160, fill=0, width=width)
    draw.polygon([(big * 0.55, big * 0.45), (big * 0.75, big * 0.25), (big * 0.95, big * 0.45)], outline=0, width=width)
    draw.rectangle((big * 0.58, big * 0.45, big * 0.92, big * 0.85), outline=0, width=width)
    draw.rectangle((big * 0.7, big * 0.62, big * 0.8, big * 0.85), outline=0, width=width)
    for _ in range(6):
        points = [(float(x), float(y)) for x, y in rng.uniform(0.05, 0.95, (5, 2)) * big]
        draw.line(points, fill=0, width=width, joint="curve")
    return image.resize((size, size), Image.Resampling.LANCZOS).convert("RGB")


PALETTE = [(20, 16, 36), (229, 59, 68), (255, 231, 98), (62, 137, 72), (44, 232, 245), (255, 255, 255), (139, 155, 180)]


def pixel_art(cells: int = 32, block: int = 16, seed: int = 0) -> Image.Image:
    """A small sprite-like picture of flat palette colours, enlarged with NEAREST."""
    rng = np.random.default_rng(seed)
    small = np.zeros((cells, cells), np.int64)
    small[:] = 4  # sky
    small[cells * 3 // 4 :] = 3  # grass
    for _ in range(6):  # blobs
        cx, cy, r = rng.integers(4, cells - 4), rng.integers(4, cells - 4), rng.integers(2, 6)
        yy, xx = np.mgrid[:cells, :cells]
        small[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = rng.integers(0, len(PALETTE))
    small[rng.random((cells, cells)) < 0.04] = 5  # sparkles
    pixels = np.array(PALETTE, np.uint8)[small]
    return Image.fromarray(pixels).resize((cells * block, cells * block), Image.Resampling.NEAREST)


def flat_illustration(size: int = 512, seed: int = 0) -> Image.Image:
    """A flat vector-style scene: plain colour fills, no outlines, no texture."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), (250, 214, 165))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, size * 0.65, size, size), fill=(96, 168, 120))
    draw.ellipse((size * 0.65, size * 0.08, size * 0.85, size * 0.28), fill=(244, 128, 56))
    for _ in range(5):
        x, w, h = rng.uniform(0, size * 0.8), rng.uniform(40, 120), rng.uniform(80, 260)
        colour = tuple(int(c) for c in rng.integers(40, 220, 3))
        draw.rectangle((x, size * 0.65 - h, x + w, size * 0.65), fill=colour)
    for _ in range(4):
        x, y, r = rng.uniform(0, size), rng.uniform(size * 0.7, size), rng.uniform(20, 50)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(58, 120, 90))
    return image


def pencil_sketch(size: int = 512, seed: int = 0) -> Image.Image:
    """Grey hatching and soft shading on light paper."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (size, size), 245)
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        x, y = rng.uniform(0, size, 2)
        length, angle = rng.uniform(10, 60), rng.uniform(0.6, 0.9)
        tone = int(rng.uniform(60, 190))
        draw.line((x, y, x + length * np.cos(angle), y + length * np.sin(angle)), fill=tone, width=1)
    blurred = image.filter(ImageFilter.GaussianBlur(0.7))
    grain = rng.normal(0, 4, (size, size))
    return Image.fromarray(np.clip(np.asarray(blurred, np.float32) + grain, 0, 255).astype(np.uint8)).convert("RGB")
