"""The model cache: the one owner of every model a worker loads. Load once, keep warm, evict the
least recently used within a memory budget.

Entries are whole pipelines (keyed by checkpoint file and its modification time), single
components shared between them (VAE overrides, ControlNets), and every tool's networks: ONNX
Runtime sessions, ncnn and torch upscalers, MediaPipe graphs, transformers models, LaMa, HED.
Holders keep no reference of their own: they ask the cache on each use, so that eviction and
unload() free the memory. A pipeline is used by one task at a time (its lock), since LoRA
adapters, VAE and scheduler are switched on it per request; MediaPipe graphs likewise (they are
not thread-safe).

This module imports no model library: the tools' holders import it, and torch only where a size
is measured.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imgopen.engine.device import Placement

log = logging.getLogger(__name__)

# What an entry occupies: bytes, a function of the loaded value, or None (its torch modules' bytes).
Size = int | Callable[[Any], int] | None
Close = Callable[[Any], None]


def module_bytes(obj: Any) -> int:
    """Bytes of the parameters and buffers of a torch module or a pipeline's modules."""
    import torch

    modules: list[torch.nn.Module] = []
    obj = getattr(obj, "pipe", obj)  # a loaded checkpoint: its pipeline
    if isinstance(obj, torch.nn.Module):
        modules.append(obj)
    else:
        components = getattr(obj, "components", {}) or {}
        modules.extend(m for m in components.values() if isinstance(m, torch.nn.Module))
    total = 0
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            total += tensor.numel() * tensor.element_size()
    return total


def file_bytes(path: Path) -> int:
    """A file's size, or a folder's files' total: the estimate for what is loaded from it when
    the loaded object cannot be measured (ONNX sessions, ncnn networks)."""
    if path.is_dir():
        return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())
    return path.stat().st_size


def file_key(kind: str, path: Path, *extra: object) -> str:
    """`kind:path:mtime[:extra...]`: a replaced file (a folder: any of its direct children) is a new key."""
    mtime = path.stat().st_mtime_ns
    if path.is_dir():
        mtime = max([mtime, *(child.stat().st_mtime_ns for child in path.iterdir())])
    return ":".join([kind, str(path), str(mtime), *map(str, extra)])


def default_budget(placement: Placement) -> int:
    """Half the machine's memory on a CPU, 90% of the GPU's: what models may occupy."""
    if placement.is_cuda:
        import torch

        total = torch.cuda.get_device_properties(placement.device).total_memory
        return int(total * 0.9)
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.5)


def own_cache(cache: ModelCache | None) -> ModelCache:
    """`cache`, else one of the caller's own with the default budget: for holders built without a
    worker (tests, benchmarks, direct calls)."""
    if cache is not None:
        return cache
    from imgopen.engine.device import choose_placement

    return ModelCache(default_budget(choose_placement()))


@dataclass
class Cached:
    key: str
    value: Any
    size: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Per-pipeline state that requests switch: adapters loaded, embeddings, derived pipelines.
    state: dict[str, Any] = field(default_factory=dict)
    # Releases what dropping the last reference does not (MediaPipe graphs keep their threads).
    close: Close | None = None


class ModelCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self._items: OrderedDict[str, Cached] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times something was loaded (cold starts), for benchmarks and tests

    @property
    def used(self) -> int:
        with self._lock:
            return self._used()

    def _used(self) -> int:
        return sum(item.size for item in self._items.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def values(self) -> list[Any]:
        """What is loaded now (a snapshot)."""
        with self._lock:
            return [item.value for item in self._items.values()]

    def peek(self, key: str) -> Cached | None:
        """The item if it is loaded; loads nothing and leaves the order as it is."""
        with self._lock:
            return self._items.get(key)

    def get(self, key: str, load: Callable[[], Any], size: Size = None, close: Close | None = None) -> Cached:
        """The cached item, loading it on a miss (one loader per key at a time). `size` is what the
        value occupies (default: its torch modules' bytes); `close` releases it when it is dropped,
        which happens only while it is not in use (an item with `close` is used through use())."""
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                return item
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                item = self._items.get(key)
                if item is not None:
                    return item
            value = load()
            nbytes = module_bytes(value) if size is None else size(value) if callable(size) else size
            with self._lock:
                evicted = self._evict_for(nbytes, keep=key)
                item = Cached(key, value, nbytes, close=close)
                self._items[key] = item
                self._loading.pop(key, None)
                self.loads += 1
                used = self._used()
        self._release(evicted)
        log.info("loaded %s (%.1f MB); cache %.1f of %.1f MB", key, nbytes / 2**20, used / 2**20, self.budget / 2**20)
        return item

    @contextmanager
    def use(self, key: str, load: Callable[[], Any], size: Size = None, close: Close | None = None) -> Iterator[Cached]:
        """The item, held exclusively for the block (not evicted meanwhile)."""
        while True:
            item = self.get(key, load, size, close)
            with item.lock:
                with self._lock:
                    # Dropped between get() and the lock (evicted, unloaded): load it again.
                    current = self._items.get(key) is item
                if current:
                    yield item
                    return

    def _evict_for(self, size: int, keep: str) -> list[Cached]:
        """Drop least recently used items (not in use) until `size` more bytes fit; those dropped."""
        evicted: list[Cached] = []
        for key in list(self._items):
            if self._used() + size <= self.budget:
                break
            item = self._items[key]
            if key == keep or item.lock.locked():
                continue
            del self._items[key]
            evicted.append(item)
            log.info("evicted %s (%.1f MB)", key, item.size / 2**20)
        return evicted

    def unload(self, key: str | None = None, keep: str | None = None) -> list[str]:
        """Drop one key, or everything not in use (but `keep`); the keys dropped."""
        dropped: list[Cached] = []
        with self._lock:
            for name in list(self._items):
                item = self._items[name]
                if (key is None or name == key) and name != keep and not item.lock.locked():
                    del self._items[name]
                    dropped.append(item)
        self._release(dropped, always=True)
        return [item.key for item in dropped]

    def _release(self, items: list[Cached], always: bool = False) -> None:
        """Close what needs closing, then return the memory. Outside the cache's lock: a holder
        of an item's lock may be waiting for it."""
        for item in items:
            if item.close is not None:
                with item.lock:  # a use() that got it before it was dropped finds it gone, and reloads
                    item.close(item.value)
        if items or always:
            from imgopen.engine.device import free_accelerator_memory

            free_accelerator_memory()
