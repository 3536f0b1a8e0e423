"""toolCode -> tool. The API builds one typed route per registered tool from its spec; workers run
the tools themselves (a Tool is a ToolSpec with its implementation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

from imgopen.tools.base import Tool, ToolSpec

AnySpec = ToolSpec[Any, Any]
AnyTool = Tool[Any, Any]
S = TypeVar("S", bound=AnySpec)
S_co = TypeVar("S_co", bound=AnySpec, covariant=True)


class ToolLookup(Protocol[S_co]):
    """Reading a registry: what the API and the views need (a registry of tools is one of specs)."""

    def get(self, code: str) -> S_co | None: ...

    def __iter__(self) -> Iterator[S_co]: ...


class ToolRegistry(Generic[S]):
    def __init__(self) -> None:
        self._tools: dict[str, S] = {}

    def register(self, tool: S) -> None:
        if tool.code in self._tools:
            raise ValueError(f"tool {tool.code!r} registered twice")
        self._tools[tool.code] = tool

    def get(self, code: str) -> S | None:
        return self._tools.get(code)

    def __iter__(self) -> Iterator[S]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)
