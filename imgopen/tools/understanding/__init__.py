"""Understanding tools: image description (interrogate), style recognition (identifyStyle), prompt
expansion (prompts/expand). Importing this package loads no model library: the implementations
are imported by `tools()` alone, which only the workers call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgopen.tools.registry import AnySpec, AnyTool
from imgopen.tools.understanding.identify_style_spec import IdentifyStyleSpec
from imgopen.tools.understanding.interrogate_spec import InterrogateSpec
from imgopen.tools.understanding.prompt_expand_spec import PromptExpandSpec

if TYPE_CHECKING:
    from imgopen.engine.service import DiffusionEngine


def specs() -> list[AnySpec]:
    """The tools of this group as the API knows them."""
    return [InterrogateSpec(), IdentifyStyleSpec(), PromptExpandSpec()]


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register, their models in the engine's cache (one CLIP
    model there for the two that use it)."""
    from imgopen.tools.understanding.identify_style import IdentifyStyleTool
    from imgopen.tools.understanding.interrogate import InterrogateTool
    from imgopen.tools.understanding.prompt_expand import PromptExpandTool

    return [InterrogateTool(engine.cache), IdentifyStyleTool(engine.cache), PromptExpandTool(engine.cache)]
