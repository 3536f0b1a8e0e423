"""The face every tool has: a code, typed params and result, where it runs, and run(params, ctx)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from imgopen.config import Settings
from imgopen.tasks.context import TaskContext


class ToolParams(BaseModel):
    """A tool's own body fields (businessTaskId and callbackUrl are added by the API)."""

    # Unknown fields are ignored, not refused: clients of the hosted API send extras.
    model_config = ConfigDict(extra="ignore")


class ToolResult(BaseModel):
    """Fields every tool result has; tools add their own."""

    method: str = Field(description="Which backend produced the result, e.g. 'lanczos' or 'dwtDctSvd'.")


P = TypeVar("P", bound=ToolParams)
R = TypeVar("R", bound=ToolResult)


class Tool(ABC, Generic[P, R]):
    code: ClassVar[str]
    summary: ClassVar[str]
    description: ClassVar[str] = ""
    pool: ClassVar[Literal["cpu", "gpu"]] = "cpu"
    # Synchronous tools answer the submit with their result (the task is still recorded).
    synchronous: ClassVar[bool] = False
    params_model: type[P]
    result_model: type[R]

    def precheck(self, params: P, sizes: Mapping[str, tuple[int, int]], settings: Settings) -> None:
        """Checks that need the input images' sizes (keyed by field path), run at submit time.
        Raise ImgOpenError("400", ...) to refuse the request before a task is made."""

    @abstractmethod
    def run(self, params: P, ctx: TaskContext) -> R:
        """Do the work; raise ImgOpenError for failures a user can act on."""
