"""The model cache: load once, keep warm, evict the least recently used within a memory budget.

Entries are whole pipelines (keyed by checkpoint file and its modification time) and single
components shared between them (VAE overrides, ControlNets). A pipeline is used by one task at a
time (its lock), since LoRA adapters, VAE and scheduler are switched on it per request.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from imgopen.engine.device import free_accelerator_memory

log = logging.getLogger(__name__)


def module_bytes(obj: Any) -> int:
    """Bytes of the parameters and buffers of a torch module or a pipeline's modules."""
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


@dataclass
class Cached:
    key: str
    value: Any
    size: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Per-pipeline state that requests switch: adapters loaded, embeddings, derived pipelines.
    state: dict[str, Any] = field(default_factory=dict)


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
            return sum(item.size for item in self._items.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def values(self) -> list[Any]:
        """What is loaded now (a snapshot)."""
        with self._lock:
            return [item.value for item in self._items.values()]

    def get(self, key: str, load: Callable[[], Any]) -> Cached:
        """The cached item, loading it on a miss (one loader per key at a time)."""
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
            size = module_bytes(value)
            with self._lock:
                self._evict_for(size, keep=key)
                item = Cached(key, value, size)
                self._items[key] = item
                self._loading.pop(key, None)
                self.loads += 1
            log.info(
                "loaded %s (%.1f MB); cache %.1f of %.1f MB", key, size / 2**20, self.used / 2**20, self.budget / 2**20
            )
            return item

    @contextmanager
    def use(self, key: str, load: Callable[[], Any]) -> Iterator[Cached]:
        """The item, held exclusively for the block."""
        item = self.get(key, load)
        with item.lock:
            yield item

    def _evict_for(self, size: int, keep: str) -> None:
        """Drop least recently used items (not in use) until `size` more bytes fit."""
        for key in list(self._items):
            if sum(item.size for item in self._items.values()) + size <= self.budget:
                break
            item = self._items[key]
            if key == keep or item.lock.locked():
                continue
            del self._items[key]
            log.info("evicted %s (%.1f MB)", key, item.size / 2**20)
        free_accelerator_memory()

    def unload(self, key: str | None = None, keep: str | None = None) -> list[str]:
        """Drop one key, or everything not in use (but `keep`); the keys dropped."""
        dropped: list[str] = []
        with self._lock:
            for name in list(self._items):
                item = self._items[name]
                if (key is None or name == key) and name != keep and not item.lock.locked():
                    del self._items[name]
                    dropped.append(name)
        free_accelerator_memory()
        return dropped
