"""Tools for tests of the task machinery: they take time, report progress, fail on request. Each has
its spec (what the API role knows) and its tool (what the workers run), like the built-in ones."""

from __future__ import annotations

import threading
import time

from pydantic import Field

from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool, ToolParams, ToolResult, ToolSpec


class SleepParams(ToolParams):
    steps: int = Field(10, ge=1, le=10_000, description="Steps to take.")
    stepSeconds: float = Field(0.05, ge=0, le=10, description="Time per step.")
    failCode: str | None = Field(None, description="Fail at the end with this code.")
    crash: bool = Field(False, description="Raise an unexpected exception at the end.")
    note: str | None = Field(None, max_length=100, description="Store this text as the output note.txt.")


class SleepResult(ToolResult):
    steps: int = Field(description="Steps taken.")


class SleepSpec(ToolSpec[SleepParams, SleepResult]):
    code = "test/sleep"
    summary = "Test: sleep in steps"
    params_model = SleepParams
    result_model = SleepResult


class SleepTool(SleepSpec, Tool[SleepParams, SleepResult]):
    def run(self, params: SleepParams, ctx: TaskContext) -> SleepResult:
        for step in range(params.steps):
            time.sleep(params.stepSeconds)
            ctx.progress((step + 1) / params.steps, {"step": step + 1, "totalSteps": params.steps})
        if params.note is not None:
            ctx.save_bytes(params.note.encode(), "note.txt")
        if params.failCode:
            raise ImgOpenError(params.failCode, f"failed on purpose with {params.failCode}")
        if params.crash:
            raise RuntimeError("a bug")
        return SleepResult(method="sleep", steps=params.steps)


class SleepNowSpec(SleepSpec):
    code = "test/sleep-now"
    summary = "Test: sleep in steps, answered within the submit"
    synchronous = True


class SleepNowTool(SleepNowSpec, SleepTool):
    """test/sleep as a synchronous tool; it notes the threads that ran it, in order."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def run(self, params: SleepParams, ctx: TaskContext) -> SleepResult:
        self.threads.append(threading.current_thread().name)
        return super().run(params, ctx)
