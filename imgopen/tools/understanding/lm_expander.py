"""Prompt expansion with a causal language model (GPT-2 style transformers folder under
models/prompt_expansion/): the source prompt and a comma are the model's input, and
`model.generate` samples the continuations with the request's topK, topP, temperature and
repetitionPenalty. The continuation is cleaned (control characters dropped; mode 0: split into
comma tags, repeats dropped) and cut at a tag or word boundary to fit maxTokens CLIP tokens."""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgopen.engine.cache import ModelCache, own_cache
from imgopen.tools.understanding.expansion_request import Request, TokenCounter
from imgopen.tools.understanding.loaded import Loaded
from imgopen.tools.understanding.model_folders import PROMPT_LM, find_model_folder, load_failed

ROUNDS = 4  # generate again (next seed) while fewer distinct prompts than asked came out


@dataclass
class _Lm:
    model: Any
    tokenizer: Any
    kind: str


def _load(folder: Path) -> _Lm:
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True).eval()
    except Exception as exc:  # a broken or foreign folder: the operator must fix it
        raise load_failed(PROMPT_LM, folder, exc) from exc
    return _Lm(model, tokenizer, str(model.config.model_type))


def clean(text: str, mode: int, source: str) -> str:
    """Printable text only; mode 0 as distinct comma tags not already in the source prompt."""
    text = "".join(c if unicodedata.category(c)[0] not in "CZ" or c == " " else " " for c in text)
    text = text.replace("\ufffd", " ")
    if mode == 1:
        return re.sub(r"\s+", " ", text).strip(" ,;.")
    lowered = source.lower()
    tags: list[str] = []
    for part in re.split(r"[,;.|]", text):
        tag = re.sub(r"\s+", " ", part).strip(" -_:")
        if tag and tag.lower() not in lowered and tag.lower() not in (t.lower() for t in tags):
            tags.append(tag)
    return ", ".join(tags)


def fit(source: str, continuation: str, mode: int, max_tokens: int, tokens: TokenCounter) -> str:
    """The source prompt and as much of the continuation as fits, cut between tags (mode 0) or
    words (mode 1)."""
    pieces = continuation.split(", ") if mode == 0 else continuation.split(" ")
    separator = ", " if mode == 0 else " "
    kept: list[str] = []
    for piece in pieces:
        candidate = f"{source}, {separator.join([*kept, piece])}"
        if tokens(candidate) > max_tokens:
            break
        kept.append(piece)
    return f"{source}, {separator.join(kept)}" if kept else source


class LmExpander:
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._loaded: Loaded[_Lm] = Loaded(own_cache(cache), "prompt-lm", _load)
        self._lock = threading.Lock()  # torch's random generator is process-wide: one seeded run at a time

    @staticmethod
    def folder(models_dir: Path) -> Path | None:
        return find_model_folder(PROMPT_LM, models_dir)

    def kind(self, folder: Path) -> str:
        return self._loaded.get(folder).kind

    def expand(self, folder: Path, request: Request, tokens: TokenCounter) -> list[str]:
        import torch

        lm = self._loaded.get(folder)
        source = request.source.rstrip(" ,")
        budget = max(1, request.max_tokens - tokens(source))
        inputs = lm.tokenizer(f"{source},", return_tensors="pt")
        start = inputs["input_ids"].shape[1]
        pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else lm.tokenizer.eos_token_id
        settings = {
            "do_sample": True,
            "top_k": request.knobs.top_k,
            "top_p": request.knobs.top_p,
            "temperature": request.knobs.temperature,
            "repetition_penalty": request.knobs.repetition_penalty,
            "max_new_tokens": budget,
            "min_new_tokens": min(budget, max(0, request.min_tokens - tokens(source))),
            "pad_token_id": pad,
        }
        prompts: list[str] = []
        for round_index in range(ROUNDS):
            wanted = request.count - len(prompts)
            with self._lock, torch.no_grad():
                torch.manual_seed(request.seed + round_index)
                output = lm.model.generate(**inputs, num_return_sequences=wanted, **settings)
            for text in lm.tokenizer.batch_decode(output[:, start:], skip_special_tokens=True):
                continuation = clean(str(text), request.mode, source)
                prompt = fit(source, continuation, request.mode, request.max_tokens, tokens) if continuation else ""
                if prompt and prompt != source and prompt not in prompts:
                    prompts.append(prompt)
            if len(prompts) >= request.count:
                break
        return prompts[: request.count]
