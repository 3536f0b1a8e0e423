"""The default executor: worker threads inside the server process, one group per pool.

Threads, not processes: the heavy work (torch, OpenCV, NumPy) releases the GIL, and a model
loaded once is shared by every worker of the pool.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imgopen.config import Settings
from imgopen.db.tables import Task
from imgopen.tasks.context import StopReason
from imgopen.tasks.insertion import Insertion
from imgopen.tasks.leases import LeaseKeeper
from imgopen.tasks.periodic import Periodic
from imgopen.tasks.runner import TaskRunner
from imgopen.tasks.store import TaskStore

log = logging.getLogger(__name__)
# Worker thread groups, and the task pools each claims from: trainings share the GPU workers.
THREAD_POOLS = {"gpu": ("gpu", "train"), "cpu": ("cpu",)}
# A worker's pause after each task, for the event loop to send the answer (see _work).
ANSWER_FIRST_SECONDS = 0.0003


def _group_of(pool: str) -> str:
    return next(group for group, pools in THREAD_POOLS.items() if pool in pools)


# A task handed to a worker, with its insertion when it is handed over before its insert.
_Work = tuple[Task, Insertion | None]


@dataclass(eq=False)
class _Slot:
    """One worker thread as the executor sees it: woken on its own condition (sharing its group's
    lock), idle or reserved, and the claimed task handed to it."""

    owner: str
    group: str
    wake: threading.Condition
    reserved: bool = False
    handed: _Work | None = None

    def take(self) -> _Work | None:
        """The task handed over, if any (under the group's lock)."""
        work, self.handed = self.handed, None
        return work


class InProcessExecutor:
    def __init__(
        self,
        store: TaskStore,
        runner: TaskRunner,
        leases: LeaseKeeper,
        settings: Settings,
        on_finished: Callable[[str], None] = lambda _task_id: None,
        unload: Callable[[], list[str]] = list,
        warm_up: Callable[[], object] = lambda: None,
    ) -> None:
        self._store = store
        self._unload = unload
        self._warm_up = warm_up  # compiles the configured sizes at start (in the background)
        self._runner = runner
        self._leases = leases
        self._settings = settings
        self._sizes = {"gpu": settings.gpu_workers, "cpu": settings.cpu_workers}
        self._lease_ms = int(settings.lease_seconds * 1000)
        self._boot = f"{settings.node_name}:{os.getpid()}:{secrets.token_hex(3)}"
        self._locks = {group: threading.Lock() for group in THREAD_POOLS}
        # Idle threads of each group, waiting on their own conditions (under the group's lock).
        self._idle: dict[str, list[_Slot]] = {group: [] for group in THREAD_POOLS}
        self._reserved: dict[str, _Slot] = {}  # owner -> slot held for a task being submitted
        self._stopping = threading.Event()
        self._threads: list[tuple[threading.Thread, str]] = []
        self._reaper = Periodic("imgopen-reaper", max(settings.lease_seconds / 2, 0.2), self.recover)
        self._on_finished = on_finished
        # Set by _wake_threads(); read under the pool's condition so a wake-up between a worker's empty
        # claim and its wait is never lost.
        self._pending = dict.fromkeys(THREAD_POOLS, False)

    def _threads_alive(self) -> dict[str, int]:
        alive = dict.fromkeys(THREAD_POOLS, 0)
        for thread, group in self._threads:
            alive[group] += thread.is_alive()
        return alive

    def workers_alive(self) -> dict[str, int]:
        alive = self._threads_alive()
        return {pool: alive[group] for group, pools in THREAD_POOLS.items() for pool in pools}

    def idle_threads(self) -> dict[str, int]:
        """Worker threads per group waiting for work now (each can be reserved by a submit)."""
        return {group: len(self._idle[group]) for group in THREAD_POOLS}

    def worker_checks(self) -> dict[str, str]:
        alive = self._threads_alive()
        return {
            f"{group}_workers": "ok" if alive[group] == want else f"error: {alive[group]}/{want} alive"
            for group, want in self._sizes.items()
        }

    def unload_models(self) -> dict[str, Any]:
        return {"unloaded": self._unload()}

    def start(self) -> None:
        self._stopping.clear()
        self.recover()
        self._leases.start()
        self._reaper.start()
        if self._sizes["gpu"]:
            self._warm_up()
        for pool in THREAD_POOLS:
            for index in range(self._sizes[pool]):
                thread = threading.Thread(
                    target=self._work,
                    args=(pool, f"{self._boot}:{pool}-{index}"),
                    name=f"imgopen-{pool}-{index}",
                    daemon=True,
                )
                thread.start()
                self._threads.append((thread, pool))

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._leases.signal_all(StopReason.SHUTDOWN)
        for pool in THREAD_POOLS:
            self._wake_threads(pool)
        for thread, _pool in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self._reaper.stop()
        self._leases.stop()

    def reserve(self, pool: str) -> str | None:
        group = _group_of(pool)
        with self._locks[group]:
            if not self._idle[group] or self._stopping.is_set():
                return None
            slot = self._idle[group].pop()
            slot.reserved = True
            self._reserved[slot.owner] = slot
            return slot.owner

    def unreserve(self, owner: str) -> None:
        self._hand(owner, None)

    def _hand(self, owner: str, work: _Work | None) -> bool:
        slot = self._reserved.pop(owner, None)
        if slot is None:
            return False
        with self._locks[slot.group]:
            slot.reserved = False
            slot.handed = work
            slot.wake.notify()
        return True

    def dispatch(self, task: Task, insertion: Insertion | None = None) -> None:
        if task.lease_owner is not None and self._hand(task.lease_owner, (task, insertion)):
            return  # claimed at insert for a reserved thread: handed over, no claim
        # One task, one thread woken: more would race for it and then for the GIL while it runs.
        self._wake_threads(_group_of(task.pool), every=False)

    def _wake_threads(self, group: str, every: bool = True) -> None:
        with self._locks[group]:
            self._pending[group] = True
            idle = self._idle[group]
            woken = idle[:] if every else idle[-1:]
            del idle[len(idle) - len(woken) :]
            for slot in woken:
                slot.wake.notify()

    def caller_lease(self) -> str:
        return f"{self._boot}:caller"

    def run_now(self, task: Task, claimed: bool) -> bool:
        owner = self.caller_lease()
        if not claimed:
            found = self._store.claim(task.id, owner, self._lease_ms)
            if found is None:
                return False
            task = found
        self._runner.run(task, owner)
        return True

    def request_cancel(self, task_id: str) -> None:
        self._leases.signal(task_id, StopReason.CANCEL)

    def recover(self) -> None:
        """Requeue (once) or fail the tasks whose worker died; wake whoever must act on it."""
        recovered = self._store.recover_expired(self._settings.max_attempts, alive=self._leases.held())
        for item in recovered:
            log.warning("task %s: its worker stopped; %s", item.task_id, "queued again" if item.requeued else "failed")
        if any(item.requeued for item in recovered):
            for pool in THREAD_POOLS:
                self._wake_threads(pool)
        for item in recovered:
            if not item.requeued:
                self._on_finished(item.task_id)

    def _work(self, group: str, owner: str) -> None:
        slot = _Slot(owner, group, threading.Condition(self._locks[group]))
        after_task = False
        while not self._stopping.is_set():
            work = self._next_task(slot, after_task)
            after_task = work is not None
            if work is None:
                continue
            task, insertion = work
            self._runner.run_claimed(task, owner, self._lease_ms, insertion)
            # The answer first: a long poll woken by this end needs the GIL on the event loop's
            # thread for a moment, which claiming the next task at once would hold (measured:
            # woken-to-answered 0.38 -> 0.09 ms).
            time.sleep(ANSWER_FIRST_SECONDS)

    def _next_task(self, slot: _Slot, after_task: bool) -> _Work | None:
        """The task this thread runs next: the one handed to it, or one it claims; None after an
        idle wait (woken by a dispatch, or the poll interval for other processes' tasks). Right
        after a task, the queue is read only when a submit found no thread idle (pending): else
        it holds nothing this process knows of, and the read (a query holding the GIL for much of
        its time) would slow the event loop answering the task that just ended."""
        lock = self._locks[slot.group]
        with lock:
            # A submit is inserting our task. Should it never hand it over (a bug), the thread is
            # free again after a lease's time, and the reaper requeues the task once it expires.
            given_up = time.monotonic() + self._lease_ms / 1000
            while slot.reserved and not self._stopping.is_set():
                if time.monotonic() >= given_up:
                    log.error("worker %s: reserved by a submit that never handed its task over", slot.owner)
                    self._reserved.pop(slot.owner, None)
                    slot.reserved = False
                    break
                slot.wake.wait(self._settings.poll_seconds)
            handed = slot.take()
            if handed is not None:
                return handed
            look = not after_task or self._pending[slot.group]
        claimed = self._claim(slot) if look else None
        if claimed is not None:
            return claimed, None
        with lock:
            if not self._pending[slot.group] and not self._stopping.is_set():
                self._idle[slot.group].append(slot)
                slot.wake.wait(self._settings.poll_seconds)
                if slot in self._idle[slot.group]:
                    self._idle[slot.group].remove(slot)
                handed = slot.take()
                if handed is not None:  # reserved while idle, and handed its task
                    return handed
            self._pending[slot.group] = False
        return None

    def _claim(self, slot: _Slot) -> Task | None:
        try:
            return self._store.claim_next(THREAD_POOLS[slot.group], slot.owner, self._lease_ms)
        except Exception:
            log.exception("worker %s: could not claim a task", slot.owner)
            return None
