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
from typing import Any

from imgopen.config import Settings
from imgopen.db.tables import Task
from imgopen.tasks.context import StopReason
from imgopen.tasks.leases import LeaseKeeper
from imgopen.tasks.periodic import Periodic
from imgopen.tasks.runner import TaskRunner
from imgopen.tasks.store import TaskStore

log = logging.getLogger(__name__)
# Worker thread groups, and the task pools each claims from: trainings share the GPU workers.
THREAD_POOLS = {"gpu": ("gpu", "train"), "cpu": ("cpu",)}
# A worker's pause after each task, for the event loop to send the answer (see _work).
ANSWER_FIRST_SECONDS = 0.0003


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
        self._wake = {pool: threading.Condition() for pool in THREAD_POOLS}
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

    def dispatch(self, task: Task) -> None:
        # One task, one thread woken: more would race for it and then for the GIL while it runs.
        self._wake_threads(next(group for group, pools in THREAD_POOLS.items() if task.pool in pools), every=False)

    def _wake_threads(self, pool: str, every: bool = True) -> None:
        condition = self._wake[pool]
        with condition:
            self._pending[pool] = True
            if every:
                condition.notify_all()
            else:
                condition.notify()

    def run_now(self, task_id: str) -> bool:
        """Run a queued task in the caller's thread (synchronous tools); False when a worker
        had already taken it."""
        owner = f"{self._boot}:inline-{threading.get_ident()}"
        task = self._store.claim(task_id, owner, self._lease_ms)
        if task is None:
            return False
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

    def _work(self, pool: str, owner: str) -> None:
        condition = self._wake[pool]
        while not self._stopping.is_set():
            try:
                task = self._store.claim_next(THREAD_POOLS[pool], owner, self._lease_ms)
            except Exception:
                log.exception("worker %s: could not claim a task", owner)
                task = None
            if task is None:
                with condition:
                    if not self._pending[pool]:
                        condition.wait(self._settings.poll_seconds)
                    self._pending[pool] = False
                continue
            self._runner.run_claimed(task, owner, self._lease_ms)
            # The answer first: a long poll woken by this end needs the GIL on the event loop's
            # thread for a moment, which claiming the next task at once would hold (measured:
            # woken-to-answered 0.38 -> 0.09 ms).
            time.sleep(ANSWER_FIRST_SECONDS)
