"""Pixel tools: super resolution, object removal (erase), outpainting (imgExpand), ControlNet
preprocessor previews (cnt/preview)."""

from __future__ import annotations

from imgopen.engine.service import DiffusionEngine
from imgopen.tools.registry import AnyTool


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register."""
    return []
