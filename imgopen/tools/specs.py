"""The tools this server offers, as the API role knows them: their specs, which import no model
library. Each has its implementation in builtin.py's registry (the workers'), with the same code."""

from __future__ import annotations

from imgopen.tools import faces, people, pixels, understanding
from imgopen.tools.flux_spec import FluxSpec
from imgopen.tools.img_enlarge_spec import ImgEnlargeSpec
from imgopen.tools.registry import AnySpec, ToolRegistry
from imgopen.tools.watermark.tool_spec import WatermarkDecodeSpec, WatermarkSpec


def builtin_specs() -> ToolRegistry[AnySpec]:
    registry: ToolRegistry[AnySpec] = ToolRegistry()
    for spec in (ImgEnlargeSpec(), WatermarkSpec(), WatermarkDecodeSpec(), FluxSpec()):
        registry.register(spec)
    for group in (faces, people, pixels, understanding):
        for spec in group.specs():
            registry.register(spec)
    return registry
