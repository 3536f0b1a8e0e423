"""The face every tool has, in two halves.

`ToolSpec`, the light half: a code, typed params and result, where it runs, and the checks made at
submit time. The API role knows tools by their specs alone, so it never imports a model library.
`Tool`, the spec with its implementation: `run(params, ctx)`, built by the workers with the
services it needs. A tool's spec lives in a module of its own (`*_spec.py`) that imports nothing
heavy; its implementation subclasses the spec.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from imgopen.tasks.context import TaskContext
from imgopen.tools.checks import SubmitChecks


class ToolParams(BaseModel):
    """A tool's own body fields (businessTaskId and callbackUrl are added by the API)."""

    # Unknown fields are ignored, not refused: clients of the hosted API send extras.
    model_config = ConfigDict(extra="ignore")


class ToolResult(BaseModel):
    """Fields every tool result has; tools add their own."""

    method: str = Field(description="Which backend produced the result, e.g. 'lanczos' or 'dwtDctSvd'.")


P = TypeVar("P", bound=ToolParams)
R = TypeVar("R", bound=ToolResult)


class ToolSpec(Generic[P, R]):
    code: ClassVar[str]
    summary: ClassVar[str]
    description: ClassVar[str] = ""
    pool: ClassVar[Literal["cpu", "gpu"]] = "cpu"
    # Synchronous tools answer the submit with their result (the task is still recorded).
    synchronous: ClassVar[bool] = False
    # Whether its result is a picture (captions, tags, styles, prompts are not): the key's
    # images-per-day quota counts what `images()` says.
    makes_images: ClassVar[bool] = True
    params_model: type[P]
    result_model: type[R]

    def images(self, params: P) -> int:
        """The pictures a task with these params makes (`imageCount` where the tool has it)."""
        if not self.makes_images:
            return 0
        count = getattr(params, "imageCount", None)
        return count if isinstance(count, int) and count > 0 else 1

    def precheck(self, params: P, sizes: Mapping[str, tuple[int, int]], checks: SubmitChecks) -> None:
        """Checks that need the input images' sizes (keyed by field path) or the installed models'
        metadata, run at submit time. Raise ImgOpenError("400", ...) to refuse the request before a
        task is made ("503" when the weights it needs are missing)."""


class Tool(ToolSpec[P, R], ABC):
    @abstractmethod
    def run(self, params: P, ctx: TaskContext) -> R:
        """Do the work; raise ImgOpenError for failures a user can act on."""
