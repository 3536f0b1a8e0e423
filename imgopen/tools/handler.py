"""Runs tasks of kind "tool": validates the stored params again and calls the tool."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from imgopen.db.tables import Task
from imgopen.errors import ImgOpenError
from imgopen.schemas.types import iter_images
from imgopen.tasks.context import TaskContext
from imgopen.tools.registry import AnyTool, ToolRegistry


def describe(code: str, params: BaseModel) -> str:
    """The tool and its settings, images left out: what an output's metadata records."""
    values = params.model_dump(mode="json", exclude={str(path[0]) for path, _ in iter_images(params)})
    return json.dumps({"tool": code, **values}, ensure_ascii=False, sort_keys=True)


class ToolTaskHandler:
    def __init__(self, tools: ToolRegistry[AnyTool]) -> None:
        self._tools = tools

    def run(self, task: Task, ctx: TaskContext) -> dict[str, Any]:
        tool = self._tools.get(task.tool_code)
        if tool is None:
            raise ImgOpenError("404", f"this server has no tool {task.tool_code!r}")
        params = tool.params_model.model_validate(task.params)
        ctx.parameters = describe(tool.code, params)
        result = tool.run(params, ctx)
        # Files stay storage keys here; answers turn them into URLs (schemas.types.FileKey).
        dumped: dict[str, Any] = result.model_dump(mode="json")
        return dumped
