"""Understanding tools: image description (interrogate), style recognition (identifyStyle), prompt
expansion (prompts/expand)."""

from __future__ import annotations

from imgopen.engine.service import DiffusionEngine
from imgopen.tools.registry import AnyTool
from imgopen.tools.understanding.clip_scorer import ClipScorer
from imgopen.tools.understanding.identify_style import IdentifyStyleTool
from imgopen.tools.understanding.interrogate import InterrogateTool
from imgopen.tools.understanding.prompt_expand import PromptExpandTool


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register (one CLIP model shared by the two that use it)."""
    clip = ClipScorer()
    return [InterrogateTool(clip=clip), IdentifyStyleTool(clip=clip), PromptExpandTool()]
