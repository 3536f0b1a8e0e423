"""People tools: background removal (removeBg), hairstyles (hair/change), InstantID portraits.
Importing this package loads no model library: the implementations are imported by `tools()`
alone, which only the workers call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgopen.tools.people.hair_change_spec import HairChangeSpec
from imgopen.tools.people.instant_id.tool_spec import InstantIdSpec
from imgopen.tools.people.remove_bg_spec import RemoveBgSpec
from imgopen.tools.registry import AnySpec, AnyTool

if TYPE_CHECKING:
    from imgopen.engine.service import DiffusionEngine


def specs() -> list[AnySpec]:
    """The tools of this group as the API knows them."""
    return [RemoveBgSpec(), HairChangeSpec(), InstantIdSpec()]


def tools(engine: DiffusionEngine) -> list[AnyTool]:
    """The tools of this group, ready to register."""
    from imgopen.tools.people.hair_change import HairChangeTool
    from imgopen.tools.people.instant_id.tool import InstantIdTool
    from imgopen.tools.people.remove_bg import RemoveBgTool

    return [RemoveBgTool(engine.cache), HairChangeTool(engine), InstantIdTool(engine)]
