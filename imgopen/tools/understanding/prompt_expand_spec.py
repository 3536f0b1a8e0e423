"""prompts/expand, the light half: params, result, and the check of the room left for an expansion
(see tools/base.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from imgopen.errors import ImgOpenError
from imgopen.tools.base import ToolParams, ToolResult, ToolSpec

MAX_SEQUENCES = 8
MAX_TOKENS = 225  # three CLIP windows, the longest prompt A1111 users commonly write
ROOM = 2  # the fewest tokens an expansion adds (", " and a word)


class PromptExpandParams(ToolParams):
    mode: Literal[0, 1] = Field(
        0, description="0: Stable Diffusion 1.x style, comma tags with (tag:1.2) weights; 1: SDXL natural phrases."
    )
    sourcePrompt: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(
        description="The prompt to expand; it stays first and unchanged in every expansion."
    )
    topK: int = Field(50, ge=1, le=1000, description="Sample only among the k most likely next phrases or tokens.")
    topP: float = Field(
        0.95, gt=0, le=1, description="Then only among the most likely ones whose probabilities add up to topP."
    )
    temperature: float = Field(
        1.0, gt=0, le=5, description="Above 1 flatter (more surprising) choices, below 1 more predictable ones."
    )
    repetitionPenalty: float = Field(
        1.2,
        ge=1,
        le=5,
        description="1 = none; higher avoids repeating words of the prompt and of the other expansions.",
    )
    maxTokens: int = Field(
        75,
        ge=ROOM + 1,
        le=MAX_TOKENS,
        description="Longest expanded prompt in CLIP tokens, source included (75 fill one CLIP window).",
    )
    minTokens: int = Field(
        0,
        ge=0,
        le=MAX_TOKENS,
        description=(
            "Shortest expanded prompt in CLIP tokens, source included (reached as far as the vocabulary or the "
            "model allows); at most maxTokens."
        ),
    )
    sequencesNum: int = Field(1, ge=1, le=MAX_SEQUENCES, description=f"Expansions to return, 1 to {MAX_SEQUENCES}.")
    seed: int = Field(
        -1, ge=-1, le=2**32 - 1, description="Random seed: the same seed and fields give the same prompts; -1 random."
    )

    @model_validator(mode="after")
    def _token_range(self) -> PromptExpandParams:
        if self.minTokens > self.maxTokens:
            raise ValueError(f"minTokens: {self.minTokens} is more than maxTokens ({self.maxTokens})")
        return self


class PromptExpandResult(ToolResult):
    prompts: list[str] = Field(description="The expanded prompts, all different, each starting with sourcePrompt.")
    tokens: list[int] = Field(description="Length of each prompt in CLIP tokens.")
    seed: int = Field(description="The seed used (send it back to get the same prompts).")


def check_room(params: PromptExpandParams, used: int) -> None:
    """ "400" when sourcePrompt, `used` CLIP tokens long, leaves no room under maxTokens."""
    if used + ROOM > params.maxTokens:
        raise ImgOpenError(
            "400",
            f"maxTokens: sourcePrompt alone is {used} CLIP tokens, so maxTokens {params.maxTokens} leaves no room "
            f"to expand it (give at least {used + ROOM})",
        )


class PromptExpandSpec(ToolSpec[PromptExpandParams, PromptExpandResult]):
    makes_images = False
    code = "prompts/expand"
    summary = "Prompt expansion"
    description = (
        "Expands a prompt into sequencesNum different fuller prompts, answered at once. With a causal "
        "language model in models/prompt_expansion/ (any GPT-2 style transformers folder) the additions are "
        "sampled from it with topK, topP, temperature and repetitionPenalty; without one, phrases of imgopen's "
        "own vocabulary (quality, lighting, camera, composition, style, mood, colour, detail) are chosen by "
        "relevance to the prompt with a MiniLM sentence model and sampled with the same knobs. Lengths are "
        "CLIP tokens."
    )
    synchronous = True
    params_model = PromptExpandParams
    result_model = PromptExpandResult
    # No precheck: counting sourcePrompt's CLIP tokens needs the tokenizer (transformers), which the
    # API does not load. run() checks it first thing; the tool is synchronous, so the caller still
    # gets that "400" as the answer to the submit.
