"""A model loaded once per tool instance and reloaded when its files change."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


def _stamp(path: Path) -> tuple[str, int]:
    """The path and the newest modification time of it or its direct children."""
    times = [path.stat().st_mtime_ns]
    if path.is_dir():
        times.extend(child.stat().st_mtime_ns for child in path.iterdir())
    return str(path), max(times)


class Loaded(Generic[T]):
    """Holds the model of one path at a time (a new path or changed files replace it)."""

    def __init__(self, load: Callable[[Path], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._key: tuple[str, int] | None = None
        self._value: T | None = None

    def get(self, path: Path) -> T:
        key = _stamp(path)
        with self._lock:
            if self._key != key or self._value is None:
                self._value = None  # drop the old model before loading the new one
                self._value = self._load(path)
                self._key = key
            return self._value
