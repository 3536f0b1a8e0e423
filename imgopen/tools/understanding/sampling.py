"""The sampling knobs of language-model generation (top-k, top-p, temperature, repetition
penalty), with the meaning transformers gives them, applied to any vector of logits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Knobs:
    top_k: int  # keep only the k highest logits
    top_p: float  # then the smallest set whose probability reaches p (nucleus)
    temperature: float  # logits are divided by it: below 1 sharper, above 1 flatter
    repetition_penalty: float  # 1 = none; see penalise


def penalise(logits: NDArray[np.float64], counts: NDArray[np.float64], penalty: float) -> NDArray[np.float64]:
    """CTRL's repetition penalty, as in transformers: a logit whose item was already used `count`
    times is divided by penalty**count when positive, multiplied when negative."""
    factor = np.power(penalty, counts)
    return np.where(logits > 0, logits / factor, logits * factor)


def pick(logits: NDArray[np.float64], knobs: Knobs, rng: np.random.Generator) -> int:
    """An index drawn from softmax(logits / temperature) after top-k and top-p filtering; -inf
    logits are never drawn. At least one logit must be finite."""
    scaled = np.asarray(logits, np.float64) / knobs.temperature
    finite = np.isfinite(scaled)
    order = np.argsort(-np.where(finite, scaled, -np.inf), kind="stable")[: max(1, min(knobs.top_k, int(finite.sum())))]
    kept = scaled[order]
    probabilities = np.exp(kept - kept.max())
    probabilities /= probabilities.sum()
    # Nucleus: the first items whose cumulative probability reaches top_p (at least one).
    cumulative = np.cumsum(probabilities)
    size = int(np.searchsorted(cumulative, knobs.top_p - 1e-12) + 1)
    order, probabilities = order[:size], probabilities[:size]
    return int(order[rng.choice(len(order), p=probabilities / probabilities.sum())])
