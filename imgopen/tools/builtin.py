"""The tools this server offers, registered in one place: the core tools here, and each group's
own list (faces, people, pixels, understanding)."""

from __future__ import annotations

from imgopen.engine.service import DiffusionEngine
from imgopen.tools import faces, people, pixels, understanding
from imgopen.tools.flux import FluxTool
from imgopen.tools.img_enlarge import ImgEnlargeTool
from imgopen.tools.registry import ToolRegistry
from imgopen.tools.watermark.tool import WatermarkDecodeTool, WatermarkTool


def builtin_tools(engine: DiffusionEngine) -> ToolRegistry:
    registry = ToolRegistry()
    for tool in (ImgEnlargeTool(engine.upscalers), WatermarkTool(), WatermarkDecodeTool(), FluxTool(engine)):
        registry.register(tool)
    for group in (faces, people, pixels, understanding):
        for tool in group.tools(engine):
            registry.register(tool)
    return registry
