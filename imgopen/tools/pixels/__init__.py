"""Pixel tools: super resolution, object removal (erase), outpainting (imgExpand), ControlNet
preprocessor previews (cnt/preview)."""

from __future__ import annotations

from imgopen.engine.service import DiffusionEngine
from imgopen.tools.pixels.cnt_preview import CntPreviewTool
from imgopen.tools.pixels.erase import EraseTool
from imgopen.tools.pixels.expand import ImgExpandTool
from imgopen.tools.pixels.super_resolution import SuperResolutionTool
from imgopen.tools.registry import AnyTool


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register. superResolution uses the engine's upscaler
    service, which the SD hires fix and imgEnlarge share: loaded networks are loaded once."""
    return [
        SuperResolutionTool(engine.upscalers),
        EraseTool(engine),
        ImgExpandTool(engine),
        CntPreviewTool(),
    ]
