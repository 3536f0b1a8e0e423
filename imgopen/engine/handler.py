"""Runs tasks of kind "sd" (the SD endpoints): validates the stored body again and generates;
compatible text2image tasks may run as one batch (engine/coalesce.py)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from imgopen.db.tables import Task
from imgopen.engine.params import PARAMS_BY_MODE, Text2ImageParams
from imgopen.engine.results import SdResult
from imgopen.engine.service import DiffusionEngine
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tasks.handlers import BatchDone


class GenerationHandler:
    def __init__(self, engine: DiffusionEngine) -> None:
        self._engine = engine

    def _params(self, task: Task) -> Text2ImageParams:
        params_model = PARAMS_BY_MODE.get(task.tool_code)
        if params_model is None:
            raise ImgOpenError("500", f"unknown generation mode {task.tool_code!r}")
        return params_model.model_validate(task.params)

    def run(self, task: Task, ctx: TaskContext) -> dict[str, Any]:
        result: dict[str, Any] = self._engine.generate(self._params(task), ctx).model_dump(mode="json")
        return result

    # --- batches ------------------------------------------------------------------------------------
    @property
    def batch_limit(self) -> int:
        return self._engine.coalesce_limit

    def batch_key(self, task: Task) -> str | None:
        try:
            params = self._params(task)
        except (ImgOpenError, ValidationError):
            return None
        return self._engine.batch_key(task.tool_code, params)

    def batch_images(self, task: Task) -> int:
        try:
            return self._params(task).image_count
        except (ImgOpenError, ValidationError):
            return 1

    def run_batch(self, tasks: list[Task], ctxs: list[TaskContext], done: BatchDone) -> None:
        jobs: list[tuple[Text2ImageParams, TaskContext]] = []
        positions: list[int] = []
        for index, (task, ctx) in enumerate(zip(tasks, ctxs, strict=True)):
            try:
                jobs.append((self._params(task), ctx))
                positions.append(index)
            except Exception as exc:
                done(index, exc)

        def member_done(position: int, outcome: SdResult | BaseException) -> None:
            if isinstance(outcome, SdResult):
                done(positions[position], outcome.model_dump(mode="json"))
            else:
                done(positions[position], outcome)

        self._engine.generate_batch(jobs, member_done)
