from __future__ import annotations

from bench.tool_cases import ToolCase

CASES = [
    ToolCase("imgEnlarge", "imgEnlarge x2 (lanczos)", lambda image: {"sourceImage": image, "scale": 2}),
    ToolCase("watermark", "watermark text", lambda image: {"sourceImage": image, "text": "imgopen", "opacity": 0.6}),
    ToolCase(
        "watermark",
        "watermark invisible",
        lambda image: {"sourceImage": image, "invisibleText": "bench-42"},
    ),
]
