"""Lease renewal for the tasks this process runs; also how a cancel from another process arrives."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from imgopen.tasks.context import StopReason, StopSignal
from imgopen.tasks.periodic import Periodic
from imgopen.tasks.store import TaskStore


@dataclass
class _Held:
    owner: str
    stop: StopSignal


class LeaseKeeper:
    def __init__(self, store: TaskStore, lease_seconds: float) -> None:
        self._store = store
        self._lease_ms = int(lease_seconds * 1000)
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._thread = Periodic("imgopen-leases", max(lease_seconds / 3, 0.2), self.renew_all)
        self._shutting_down = False

    def start(self) -> None:
        with self._lock:
            self._shutting_down = False
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    def hold(self, task_id: str, owner: str, stop: StopSignal) -> None:
        with self._lock:
            self._held[task_id] = _Held(owner, stop)
            shutting_down = self._shutting_down
        if shutting_down:  # claimed as the process stops: back to the queue at its first check
            stop.set(StopReason.SHUTDOWN)

    def release(self, task_id: str) -> None:
        with self._lock:
            self._held.pop(task_id, None)

    def held(self) -> frozenset[str]:
        """Ids of the tasks running in this process."""
        with self._lock:
            return frozenset(self._held)

    def signal(self, task_id: str, reason: StopReason) -> bool:
        """Stop a task running in this process; False when it does not run here."""
        with self._lock:
            held = self._held.get(task_id)
        if held is None:
            return False
        held.stop.set(reason)
        return True

    def signal_all(self, reason: StopReason) -> None:
        """Stop every task running here; a shutdown also stops each task held after it (a task
        claimed, or handed to a worker, as the process stops) until start()."""
        with self._lock:
            held = list(self._held.values())
            self._shutting_down = self._shutting_down or reason == StopReason.SHUTDOWN
        for item in held:
            item.stop.set(reason)

    def renew_all(self) -> None:
        with self._lock:
            held = list(self._held.items())
        for task_id, item in held:
            still_ours, cancel = self._store.renew_lease(task_id, item.owner, self._lease_ms)
            if not still_ours:
                item.stop.set(StopReason.LEASE_LOST)
            elif cancel:
                item.stop.set(StopReason.CANCEL)
