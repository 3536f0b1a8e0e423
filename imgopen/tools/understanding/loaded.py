"""The understanding tools' transformers models (with their processors), one per folder, in the
model cache: a replaced file in the folder loads it anew."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from imgopen.engine.cache import ModelCache, file_key, module_bytes


class _HasModel(Protocol):
    model: Any


T = TypeVar("T", bound=_HasModel)


class Loaded(Generic[T]):
    """Loads through the cache on each use and keeps nothing itself (eviction frees the model)."""

    def __init__(self, cache: ModelCache, kind: str, load: Callable[[Path], T]) -> None:
        self._cache = cache
        self._kind = kind
        self._load = load

    def get(self, folder: Path) -> T:
        item = self._cache.get(file_key(self._kind, folder), lambda: self._load(folder), _model_bytes)
        value: T = item.value
        return value


def _model_bytes(loaded: _HasModel) -> int:
    return module_bytes(loaded.model)
