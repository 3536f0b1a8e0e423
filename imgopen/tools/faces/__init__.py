"""Face tools: detection, face swap (roop, v2/roop, face/fusion), face restoration (codeformer).
Importing this package loads no model library: the implementations are imported by `build()`
alone, which only the workers call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imgopen.config import Settings
from imgopen.tools.faces.codeformer_spec import CodeFormerSpec
from imgopen.tools.faces.detection_spec import FaceDetectionSpec
from imgopen.tools.faces.swap_tools_spec import FaceFusionSpec, RoopSpec, RoopV2Spec
from imgopen.tools.registry import AnySpec, AnyTool

if TYPE_CHECKING:
    from imgopen.engine.cache import ModelCache


def specs() -> list[AnySpec]:
    """The tools of this group as the API knows them."""
    return [FaceDetectionSpec(), RoopSpec(), RoopV2Spec(), FaceFusionSpec(), CodeFormerSpec()]


@dataclass
class FaceKit:
    """What the face tools share, built once per worker on its model cache: one face finder, one
    restorer (also the SD endpoints' restore_faces, passed to the engine), one swap runner."""

    analyzer: Any
    restorer: Any
    runner: Any


def kit(settings: Settings, cache: ModelCache | None = None) -> FaceKit:
    """The kit on `cache` (the worker's; default: one of its own)."""
    from imgopen.engine.cache import own_cache
    from imgopen.tools.faces.analysis import FaceAnalyzer
    from imgopen.tools.faces.restorer import FaceRestorer
    from imgopen.tools.faces.swap_tools import SwapRunner
    from imgopen.tools.faces.swapper import FaceSwapper

    cache = own_cache(cache)
    analyzer = FaceAnalyzer(cache)
    restorer = FaceRestorer(settings, cache, analyzer)
    return FaceKit(analyzer, restorer, SwapRunner(analyzer, FaceSwapper(analyzer, cache), restorer))


def build(settings: Settings, shared: FaceKit | None = None) -> list[AnyTool]:
    """The face tools, on `shared` (default: a kit of their own)."""
    from imgopen.tools.faces.codeformer import CodeFormerTool
    from imgopen.tools.faces.detection import FaceDetectionTool
    from imgopen.tools.faces.swap_tools import FaceFusionTool, RoopTool, RoopV2Tool

    shared = shared or kit(settings)
    return [
        FaceDetectionTool(shared.analyzer),
        RoopTool(shared.runner),
        RoopV2Tool(shared.runner),
        FaceFusionTool(shared.runner),
        CodeFormerTool(shared.analyzer, shared.restorer),
    ]
