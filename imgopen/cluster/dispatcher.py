"""The API side of the Celery executor: publishes a message for each queued task, and keeps the
queue whole: tasks of dead workers are queued again (the reaper), tasks that wait without a
message a free worker can see get one more (the republisher)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from imgopen.clock import now_ms
from imgopen.cluster.celery_app import make_celery, publish, queue_name
from imgopen.config import Settings
from imgopen.db.tables import Task
from imgopen.tasks.executor import POOLS
from imgopen.tasks.insertion import Insertion
from imgopen.tasks.periodic import Periodic
from imgopen.tasks.store import TaskStore
from imgopen.tasks.workers import WorkerDirectory

log = logging.getLogger(__name__)

# A queued task older than this with too few messages in the broker gets one more: its message may
# sit reserved by a busy worker (prefetch), or its worker may have died before claiming it.
REPUBLISH_AFTER_MS = 5_000
# Dead workers stay listed (alive: false) this long, then their rows are removed.
FORGET_WORKERS_MS = 10 * 60_000


class CeleryExecutor:
    def __init__(
        self,
        store: TaskStore,
        workers: WorkerDirectory,
        settings: Settings,
        on_finished: Callable[[str], None] = lambda _task_id: None,
        app: Any = None,
    ) -> None:
        self._store = store
        self._workers = workers
        self._settings = settings
        self._on_finished = on_finished
        self.app = app or make_celery(settings)
        self._publish_lock = threading.Lock()
        self._maintenance = Periodic("imgopen-cluster-maintenance", min(settings.lease_seconds / 2, 5.0), self.maintain)

    # --- the Executor protocol --------------------------------------------------------------------
    def start(self) -> None:
        self._declare_queues()
        self._maintenance.start()

    def stop(self) -> None:
        self._maintenance.stop()

    def reserve(self, pool: str) -> str | None:
        return None  # the workers are other processes: they claim the row themselves

    def unreserve(self, owner: str) -> None:
        """Nothing is ever reserved here."""

    def dispatch(self, task: Task, insertion: Insertion | None = None) -> None:
        if insertion is not None:  # only a reservation's task comes with one, and none is made here
            raise RuntimeError(f"task {task.id}: handed over before its insert, but this executor reserves no worker")
        self.publish(task.pool, task.id)

    def caller_lease(self) -> None:
        return None  # a request never runs a task here: the worker processes do

    def run_now(self, task: Task, claimed: bool) -> bool:
        return False  # tasks run in worker processes; the caller waits for the row to end

    def request_cancel(self, task_id: str) -> None:
        """Nothing to send: the flag is in the row, and the worker reads it with its next progress
        report or lease renewal."""

    def workers_alive(self) -> dict[str, int]:
        return self._workers.alive_per_pool()

    def worker_checks(self) -> dict[str, str]:
        """A pool with queued tasks and no live worker is not ready; the broker must answer."""
        checks: dict[str, str] = {}
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {type(exc).__name__}: {exc}"
        alive = self.workers_alive()
        queued = {stats.pool: stats.count for stats in self._store.pool_stats() if stats.state == "queued"}
        for pool in POOLS:
            if queued.get(pool) and not alive.get(pool):
                checks[f"{pool}_workers"] = f"error: {queued[pool]} queued, no worker of this pool is alive"
        return checks

    def unload_models(self) -> dict[str, Any]:
        """Every live worker drops its cached models at its next heartbeat."""
        loaded = sorted({name for info in self._workers.alive() for name in info.checkpoints})
        asked = self._workers.request_unload()
        return {"unloaded": loaded, "workers": asked}

    # --- publishing -------------------------------------------------------------------------------
    def publish(self, pool: str, task_id: str) -> None:
        with self._publish_lock:  # one producer at a time on the shared connection pool
            publish(self.app, pool, task_id)

    def _declare_queues(self) -> None:
        with self.app.connection_for_write() as connection:
            channel = connection.default_channel
            for queue in self.app.conf.task_queues:
                queue.bind(channel).declare()

    def ready_messages(self, pool: str) -> int:
        """Messages of the pool's queue that no worker holds yet."""
        with self.app.connection_for_write() as connection:
            queue = next(q for q in self.app.conf.task_queues if q.name == queue_name(self.app, pool))
            return int(queue.bind(connection.default_channel).queue_declare(passive=True).message_count)

    # --- keeping the queue whole ------------------------------------------------------------------
    def maintain(self) -> None:
        recovered = self._store.recover_expired(self._settings.max_attempts)
        for item in recovered:
            task = self._store.get(item.task_id)
            if item.requeued and task is not None:
                log.warning("task %s: its worker stopped; queued again", item.task_id)
                self.publish(task.pool, task.id)
            elif not item.requeued:
                log.warning("task %s: its worker stopped; failed", item.task_id)
                self._on_finished(item.task_id)
        for pool, waiting in self._store.waiting_since(now_ms() - REPUBLISH_AFTER_MS).items():
            missing = waiting - self.ready_messages(pool)
            for _ in range(max(0, missing)):
                self.publish(pool, "republished")
            if missing > 0:
                log.info(
                    "pool %s: %d tasks waited over %d s; %d messages published again",
                    pool,
                    waiting,
                    REPUBLISH_AFTER_MS // 1000,
                    missing,
                )
        self._workers.forget_stale(FORGET_WORKERS_MS)
