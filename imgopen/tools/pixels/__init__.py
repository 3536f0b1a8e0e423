"""Pixel tools: super resolution, object removal (erase), outpainting (imgExpand), ControlNet
preprocessor previews (cnt/preview). Importing this package loads no model library: the
implementations are imported by `tools()` alone, which only the workers call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgopen.tools.pixels.cnt_preview_spec import CntPreviewSpec
from imgopen.tools.pixels.erase_spec import EraseSpec
from imgopen.tools.pixels.expand_spec import ImgExpandSpec
from imgopen.tools.pixels.super_resolution_spec import SuperResolutionSpec
from imgopen.tools.registry import AnySpec, AnyTool

if TYPE_CHECKING:
    from imgopen.engine.service import DiffusionEngine


def specs() -> list[AnySpec]:
    """The tools of this group as the API knows them."""
    return [SuperResolutionSpec(), EraseSpec(), ImgExpandSpec(), CntPreviewSpec()]


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register, their models in the engine's cache. superResolution
    uses the engine's upscaler service (as the SD hires fix and imgEnlarge), cnt/preview the
    engine's preprocessor networks (as the SD controlnet endpoint)."""
    from imgopen.tools.pixels.cnt_preview import CntPreviewTool
    from imgopen.tools.pixels.erase import EraseTool
    from imgopen.tools.pixels.expand import ImgExpandTool
    from imgopen.tools.pixels.super_resolution import SuperResolutionTool

    return [
        SuperResolutionTool(engine.upscalers),
        EraseTool(engine),
        ImgExpandTool(engine),
        CntPreviewTool(engine.annotators),
    ]
