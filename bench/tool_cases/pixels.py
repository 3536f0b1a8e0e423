"""Pixel tools on the 512 x 512 astronaut, with what works out of the box (no weights installed):
super resolution x4 with the fast bundled network (goal: 10 s) and with the GAN realesrgan-x4plus
(much slower on a CPU: one round), object removal (OpenCV FSR), outpainting (classical fill) and
two ControlNet previews. Peak memory of a large upscale: bench/upscale_memory.py."""

from __future__ import annotations

from functools import cache

from bench.tool_cases import ToolCase


@cache
def mask_uri() -> str:
    """A 512 x 512 mask over a 60 x 60 px patch of the background (the rocket and the wall)."""
    from PIL import Image

    from imgopen.testing.images import data_uri, encode

    mask = Image.new("L", (512, 512), 0)
    mask.paste(255, (320, 40, 380, 100))
    return data_uri(encode(mask))


CASES = [
    ToolCase(
        "superResolution",
        "superResolution x4 animevideov3",
        lambda image: {"sourceImage": image, "scale": 4, "model": "realesr-animevideov3"},
        goal_direct_ms=10_000,
        rounds=3,
    ),
    ToolCase(
        "superResolution",
        "superResolution x4 realesrgan-x4plus",
        lambda image: {"sourceImage": image, "scale": 4, "model": "realesrgan-x4plus"},
        rounds=1,
    ),
    ToolCase(
        "erase",
        "erase 60x60 (classical)",
        lambda image: {"sourceImage": image, "maskImage": mask_uri()},
        rounds=3,
    ),
    ToolCase(
        "imgExpand",
        "imgExpand 1.5x1.5 (classical)",
        lambda image: {
            "sourceImage": image,
            "imageCount": 1,
            "horizontalExpansionRatio": 1.5,
            "verticalExpansionRatio": 1.5,
            "model": "classical",
        },
    ),
    ToolCase("cnt/preview", "cnt/preview canny", lambda image: {"sourceImage": image, "preprocessor": "canny"}),
    ToolCase("cnt/preview", "cnt/preview openpose", lambda image: {"sourceImage": image, "preprocessor": "openpose"}),
]
