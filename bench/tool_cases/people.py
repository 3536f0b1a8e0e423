"""People tools on the 512 x 512 astronaut: background removal (people segmentation) and a hair
colour change (both offline, no weights)."""

from __future__ import annotations

from bench.tool_cases import ToolCase

CASES = [
    ToolCase(
        "removeBg",
        "removeBg transparent",
        lambda image: {"sourceImage": image, "outputMode": "transparent"},
        goal_direct_ms=40,
    ),
    ToolCase(
        "removeBg", "removeBg mask", lambda image: {"sourceImage": image, "outputMode": "mask"}, goal_direct_ms=40
    ),
    ToolCase(
        "hair/change",
        "hair/change colour only",
        lambda image: {"sourceImage": image, "hairColor": "auburn"},
    ),
]
