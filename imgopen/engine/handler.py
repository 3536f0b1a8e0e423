"""Runs tasks of kind "sd" (the SD endpoints): validates the stored body again and generates."""

from __future__ import annotations

from typing import Any

from imgopen.db.tables import Task
from imgopen.engine.params import PARAMS_BY_MODE
from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext


class GenerationHandler:
    def __init__(self, engine: DiffusionEngine) -> None:
        self._engine = engine

    def run(self, task: Task, ctx: TaskContext) -> dict[str, Any]:
        params_model = PARAMS_BY_MODE.get(task.tool_code)
        if params_model is None:
            raise ImgOpenError("500", f"unknown generation mode {task.tool_code!r}")
        params = params_model.model_validate(task.params)
        result: dict[str, Any] = self._engine.generate(params, ctx).model_dump(mode="json")
        return result
