"""The worker side of the Celery executor: a delivery makes the worker claim the best queued task
of its pools and run it; the worker's heartbeat tells the cluster what it has loaded."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from imgopen.clock import now_ms
from imgopen.cluster.celery_app import RUN_TASK, publish, queue_name
from imgopen.roles.worker import WorkerServices
from imgopen.tasks.context import StopReason
from imgopen.tasks.periodic import Periodic
from imgopen.tasks.states import TaskState

log = logging.getLogger(__name__)

# Pools whose tasks load a checkpoint: there a worker prefers tasks for what it has loaded.
AFFINITY_POOLS = ("gpu",)
# Pools of long tasks (hours of training): acknowledged at the claim, see on_delivery.
LONG_POOLS = ("train",)


def acknowledge(request_id: str) -> None:
    """Acknowledge the delivery of the running Celery task `request_id` now, before it returns.

    Celery acknowledges a late-ack task when it ends; from the claim on, the row's lease guards the
    task, so the delivery is acknowledged at once (see celery_app.py). The worker keeps its active
    requests in `celery.worker.state`; with the threads pool, acknowledging from the task's thread
    is what Celery itself does."""
    from celery.worker.state import active_requests

    for request in list(active_requests):
        if request.id == request_id:
            request.acknowledge()
            return


class WorkerRuntime:
    def __init__(
        self, services: WorkerServices, app: Any, pools: Sequence[str], name: str, device: str, hostname: str
    ) -> None:
        self.services = services
        self.app = app
        self.pools = tuple(pools)
        self.name = name
        self.hostname = hostname  # the Celery node name, for remote control of this worker's consumers
        self.device = device
        self.host = socket.gethostname()
        self.started_at = now_ms()
        self._current: set[str] = set()
        self._lock = threading.Lock()
        self._lease_ms = int(services.settings.lease_seconds * 1000)
        self._affinity_wait_ms = int(services.settings.affinity_wait_seconds * 1000)
        self._heartbeat = Periodic("imgopen-heartbeat", services.settings.heartbeat_seconds, self.beat)

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self.beat()
        self._heartbeat.start()
        self.services.leases.start()
        if set(self.pools) & set(AFFINITY_POOLS):
            self.services.engine.warm_up_in_background()  # IMGOPEN_WARMUP_SIZES compiled before requests come

    def shutting_down(self) -> None:
        """Running tasks stop at their next step and go back to the queue (another worker resumes
        them: a training from its last epoch)."""
        self.services.leases.signal_all(StopReason.SHUTDOWN)

    def stop(self) -> None:
        self._heartbeat.stop()
        self.services.leases.stop()
        self.services.workers.leave(self.name)

    # --- deliveries -------------------------------------------------------------------------------
    def on_delivery(self, hint: str, ack: Callable[[], None]) -> None:
        """One message: claim a task (any queued one of these pools, preferring loaded checkpoints)
        and run it. The message is acknowledged when the task ends (Celery's late ack), except for
        long tasks: those acknowledge at once and stop this worker's consumers until they end, so
        that no delivery stays unacknowledged longer than the broker allows (RabbitMQ closes the
        channel of a delivery unacknowledged after consumer_timeout, 30 min by default)."""
        store = self.services.tasks
        owner = f"{self.name}:{threading.current_thread().name}"
        prefer = self.services.engine.loaded()["checkpoints"] if set(self.pools) & set(AFFINITY_POOLS) else []
        task = store.claim_next(self.pools, owner, self._lease_ms, prefer, self._affinity_wait_ms)
        if task is None:
            log.debug("message for %s: no task left to claim (taken, cancelled, or a duplicate)", hint)
            return
        log.info("task %s (%s/%s): claimed by %s", task.id, task.kind, task.tool_code, owner)
        ran = [task]
        with self._running(task.id):
            if task.pool in LONG_POOLS:
                with self._consumers_paused():
                    ack()  # from now on the row's lease guards the task, not the delivery
                    self.services.runner.run(task, owner)
            else:
                # With compatible queued tasks (coalesced generation), they run as one batch; their
                # own deliveries later find them taken.
                ran = self.services.runner.run_claimed(task, owner, self._lease_ms)
        for done in ran:
            after = store.get(done.id)
            if after is not None and after.state == TaskState.QUEUED.value:
                # Given back (this worker is stopping): tell the others.
                publish(self.app, after.pool, after.id)

    @contextmanager
    def _consumers_paused(self) -> Iterator[None]:
        """No deliveries to this worker meanwhile (with prefetch 1 and the current delivery not yet
        acknowledged, none is in flight when this starts)."""
        queues = [queue_name(self.app, pool) for pool in self.pools]
        control = self.app.control
        for queue in queues:
            control.cancel_consumer(queue, destination=[self.hostname], reply=True, timeout=10)
        try:
            yield
        finally:
            for queue in queues:
                control.add_consumer(queue, destination=[self.hostname], reply=True, timeout=10)

    @contextmanager
    def _running(self, task_id: str) -> Iterator[None]:
        with self._lock:
            self._current.add(task_id)
        try:
            yield
        finally:
            with self._lock:
                self._current.discard(task_id)
        self.beat()  # the dispatcher and `imgopen workers` see this worker free (and what it loaded) now

    def beat(self) -> None:
        with self._lock:
            current = sorted(self._current)
        engine = self.services.engine
        unload = self.services.workers.beat(
            self.name, self.host, os.getpid(), self.pools, self.device, engine.loaded(), current, self.started_at
        )
        if unload:
            log.info("unloadModels: unloaded %s", engine.unload())


def register(app: Any, runtime: WorkerRuntime) -> None:
    """The one Celery task of a worker."""

    def run(self: Any, hint: str) -> None:
        runtime.on_delivery(hint, lambda: acknowledge(self.request.id))

    app.task(name=RUN_TASK, bind=True)(run)
