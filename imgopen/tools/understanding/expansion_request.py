"""What one prompt expansion asks for, shared by the offline and the language-model expanders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imgopen.tools.understanding.sampling import Knobs

TokenCounter = Callable[[str], int]  # CLIP tokens of a text


@dataclass(frozen=True)
class Request:
    source: str
    mode: int  # 0: SD tags with weights, 1: SDXL natural phrases
    count: int
    knobs: Knobs
    max_tokens: int  # CLIP tokens of a whole expanded prompt, at most
    min_tokens: int  # and at least (as far as the vocabulary or the model allows)
    seed: int
