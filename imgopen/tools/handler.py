"""Runs tasks of kind "tool": validates the stored params again and calls the tool."""

from __future__ import annotations

from typing import Any

from imgopen.db.tables import Task
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.registry import ToolRegistry


class ToolTaskHandler:
    def __init__(self, tools: ToolRegistry) -> None:
        self._tools = tools

    def run(self, task: Task, ctx: TaskContext) -> dict[str, Any]:
        tool = self._tools.get(task.tool_code)
        if tool is None:
            raise ImgOpenError("404", f"this server has no tool {task.tool_code!r}")
        params = tool.params_model.model_validate(task.params)
        result = tool.run(params, ctx)
        # Files stay storage keys here; answers turn them into URLs (schemas.types.FileKey).
        dumped: dict[str, Any] = result.model_dump(mode="json")
        return dumped
