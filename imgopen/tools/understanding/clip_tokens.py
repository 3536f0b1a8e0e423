"""Counting prompt length in CLIP tokens, with the real CLIP tokenizer that imgopen builds offline
(the unit Stable Diffusion's 75-token window is measured in)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


class ClipTokens:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backend: Any = None

    def _get(self, cache_dir: Path) -> Any:
        with self._lock:
            if self._backend is None:
                from transformers import CLIPTokenizer

                from imgopen.engine.tokenizers import clip_tokenizer_dir

                tokenizer = CLIPTokenizer.from_pretrained(str(clip_tokenizer_dir(cache_dir)))
                # The Rust tokenizer itself: the same ids, without transformers' per-call overhead
                # (expansion counts every candidate phrase) and its warnings about long texts.
                self._backend = tokenizer.backend_tokenizer
            return self._backend

    def count(self, cache_dir: Path, text: str) -> int:
        """Tokens of `text`, not counting the start and end tokens (75 fit in one CLIP window)."""
        return len(self._get(cache_dir).encode(text, add_special_tokens=False).ids)
