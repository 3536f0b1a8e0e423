"""toolCode -> tool. The API builds one typed route per registered tool."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from imgopen.tools.base import Tool

AnyTool = Tool[Any, Any]


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, AnyTool] = {}

    def register(self, tool: AnyTool) -> None:
        if tool.code in self._tools:
            raise ValueError(f"tool {tool.code!r} registered twice")
        self._tools[tool.code] = tool

    def get(self, code: str) -> AnyTool | None:
        return self._tools.get(code)

    def __iter__(self) -> Iterator[AnyTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)
