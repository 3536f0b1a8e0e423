"""Benchmark cases of bench/tools.py: each module here defines CASES, a list of ToolCase."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCase:
    code: str  # toolCode
    label: str  # what is measured, e.g. "imgEnlarge x2"
    params: Callable[[str], dict[str, Any]]  # the body, given the 512x512 test image as a data URI
    goal_direct_ms: float | None = None  # the goal for the direct call, if any
    rounds: int = 7
    needs_models: bool = False  # needs the tiny models folder (SD checkpoints)
