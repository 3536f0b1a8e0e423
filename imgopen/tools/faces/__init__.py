"""Face tools: detection, face swap (roop, v2/roop, face/fusion), face restoration (codeformer)."""

from __future__ import annotations

from imgopen.config import Settings
from imgopen.engine.service import DiffusionEngine
from imgopen.tools.registry import AnyTool


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register; the SD endpoints' restore_faces gets the same
    restorer (one set of loaded models)."""
    return build(engine.settings, engine)


def build(settings: Settings, engine: DiffusionEngine | None = None) -> list[AnyTool]:
    """The face tools; they share one face finder, one set of ONNX sessions and one restorer, so
    each model is loaded once."""
    from imgopen.tools.faces.analysis import FaceAnalyzer
    from imgopen.tools.faces.codeformer import CodeFormerTool
    from imgopen.tools.faces.detection import FaceDetectionTool
    from imgopen.tools.faces.restorer import FaceRestorer
    from imgopen.tools.faces.swap_tools import FaceFusionTool, RoopTool, RoopV2Tool, SwapRunner
    from imgopen.tools.faces.swapper import FaceSwapper
    from imgopen.tools.onnx_sessions import OnnxSessions

    sessions = OnnxSessions()
    analyzer = FaceAnalyzer(sessions)
    restorer = FaceRestorer(settings, analyzer, sessions)
    runner = SwapRunner(analyzer, FaceSwapper(analyzer, sessions), restorer)
    if engine is not None:
        engine.face_restorer = restorer.restore
    return [
        FaceDetectionTool(analyzer),
        RoopTool(runner),
        RoopV2Tool(runner),
        FaceFusionTool(runner),
        CodeFormerTool(analyzer, restorer),
    ]
