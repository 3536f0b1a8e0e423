"""prompts/expand (synchronous): a short prompt grown into several fuller ones that keep its words
first and unchanged."""

from __future__ import annotations

import secrets

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.errors import ImgOpenError
from imgopen.tasks.context import TaskContext
from imgopen.tools.base import Tool
from imgopen.tools.understanding import offline_expander
from imgopen.tools.understanding.clip_tokens import ClipTokens
from imgopen.tools.understanding.expansion_request import Request
from imgopen.tools.understanding.lm_expander import LmExpander
from imgopen.tools.understanding.offline_expander import OfflineExpander
from imgopen.tools.understanding.prompt_expand_spec import (
    PromptExpandParams,
    PromptExpandResult,
    PromptExpandSpec,
    check_room,
)
from imgopen.tools.understanding.sampling import Knobs

__all__ = ["PromptExpandParams", "PromptExpandResult", "PromptExpandTool"]


class PromptExpandTool(PromptExpandSpec, Tool[PromptExpandParams, PromptExpandResult]):
    def __init__(self, cache: ModelCache | None = None) -> None:
        cache = own_cache(cache)
        self._tokens = ClipTokens()
        self._offline = OfflineExpander(cache)
        self._lm = LmExpander(cache)

    def run(self, params: PromptExpandParams, ctx: TaskContext) -> PromptExpandResult:
        cache_dir = ctx.settings.data_dir / "cache"

        def count(text: str) -> int:
            return self._tokens.count(cache_dir, text)

        check_room(params, count(params.sourcePrompt.rstrip(" ,")))
        seed = params.seed if params.seed >= 0 else secrets.randbelow(2**32)
        request = Request(
            source=params.sourcePrompt,
            mode=params.mode,
            count=params.sequencesNum,
            knobs=Knobs(params.topK, params.topP, params.temperature, params.repetitionPenalty),
            max_tokens=params.maxTokens,
            min_tokens=params.minTokens,
            seed=seed,
        )
        folder = self._lm.folder(ctx.settings.models_dir)
        if folder is not None:
            prompts = self._lm.expand(folder, request, count)
            method = f"{self._lm.kind(folder)}-sampling"
        else:
            prompts = self._offline.expand(request, cache_dir, count)
            method = offline_expander.METHOD
        if not prompts:
            raise ImgOpenError(
                "400", f"maxTokens: nothing could be added to sourcePrompt within {params.maxTokens} tokens"
            )
        if len(prompts) < params.sequencesNum:
            ctx.warn(f"sequencesNum: only {len(prompts)} different expansions could be made")
        lengths = [count(prompt) for prompt in prompts]
        short = [n for n in lengths if n < params.minTokens]
        if short:
            ctx.warn(f"minTokens: {len(short)} expansion(s) stayed shorter ({min(short)} tokens at the least)")
        return PromptExpandResult(method=method, prompts=prompts, tokens=lengths, seed=seed)
