"""Face tools: detection, face swap (roop, v2/roop, face/fusion), face restoration (codeformer)."""

from __future__ import annotations

from imgopen.engine.service import DiffusionEngine
from imgopen.tools.registry import AnyTool


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register."""
    return []
