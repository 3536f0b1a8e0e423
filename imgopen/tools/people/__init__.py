"""People tools: background removal (removeBg), hairstyles (hair/change), InstantID portraits."""

from __future__ import annotations

from imgopen.engine.service import DiffusionEngine
from imgopen.tools.people.hair_change import HairChangeTool
from imgopen.tools.people.instant_id.tool import InstantIdTool
from imgopen.tools.people.remove_bg import RemoveBgTool
from imgopen.tools.registry import AnyTool


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register."""
    return [RemoveBgTool(), HairChangeTool(engine), InstantIdTool(engine)]
