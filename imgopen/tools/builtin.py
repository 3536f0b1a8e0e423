"""The tools this server runs, registered in one place: the core tools here, and each group's own
list (faces, people, pixels, understanding). Workers import this; the API role knows the same tools
by their specs (specs.py), without the model libraries imported here."""

from __future__ import annotations

from imgopen.engine.service import DiffusionEngine
from imgopen.tools import faces, people, pixels, understanding
from imgopen.tools.flux import FluxTool
from imgopen.tools.img_enlarge import ImgEnlargeTool
from imgopen.tools.registry import AnyTool, ToolRegistry
from imgopen.tools.watermark.tool import WatermarkDecodeTool, WatermarkTool


def builtin_tools(engine: DiffusionEngine, face_kit: faces.FaceKit | None = None) -> ToolRegistry[AnyTool]:
    """Every tool, its models in the engine's cache; the face tools on `face_kit` when given (the one
    whose restorer the engine uses, built on the same cache)."""
    registry: ToolRegistry[AnyTool] = ToolRegistry()
    tools: list[AnyTool] = [ImgEnlargeTool(engine.upscalers), WatermarkTool(), WatermarkDecodeTool(), FluxTool(engine)]
    tools += faces.build(engine.settings, face_kit or faces.kit(engine.settings, engine.cache))
    for group in (people, pixels, understanding):
        tools += group.tools(engine)
    for tool in tools:
        registry.register(tool)
    return registry
