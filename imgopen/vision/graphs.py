"""MediaPipe graphs from the model cache: one graph per model and settings, shared by every holder
of the cache. A graph is not thread-safe (it is held for the call) and keeps threads and memory
until it is closed (the cache closes what it drops)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from imgopen.engine.cache import ModelCache

# A graph's memory, estimated: a Face Mesh graph adds ~27 MB to the process (measured).
GRAPH_BYTES = 32 << 20


def _close(graph: Any) -> None:
    graph.close()


@contextmanager
def graph(cache: ModelCache, name: str, make: Callable[[], Any]) -> Iterator[Any]:
    """The graph `name` (the solution and its settings), made by `make` on a miss, held for the block."""
    with cache.use(f"mediapipe:{name}", make, GRAPH_BYTES, _close) as item:
        yield item.value
