"""Benchmark cases of the understanding tools, as they run out of the box (no models installed:
the offline methods; the MiniLM sentence model of prompt expansion is in a package)."""

from __future__ import annotations

from bench.tool_cases import ToolCase

CASES = [
    ToolCase("interrogate", "interrogate clip (offline-analysis)", lambda image: {"image": image, "model": "clip"}),
    ToolCase(
        "interrogate",
        "interrogate deepdanbooru (offline)",
        lambda image: {"image": image, "model": "deepdanbooru"},
    ),
    ToolCase("identifyStyle", "identifyStyle (offline-statistics)", lambda image: {"sourceImage": image}),
    # Synchronous: the API time is the submit alone, which answers with the prompts.
    ToolCase(
        "prompts/expand",
        "prompts/expand 4 prompts (offline)",
        lambda image: {"sourcePrompt": "a lighthouse on a rocky cliff at dusk", "sequencesNum": 4, "seed": 7},
    ),
    ToolCase(
        "prompts/expand",
        "prompts/expand 1 prompt SDXL (offline)",
        lambda image: {"sourcePrompt": "portrait of an old fisherman", "mode": 1, "seed": 7},
    ),
]
