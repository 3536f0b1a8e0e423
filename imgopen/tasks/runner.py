"""Runs one claimed task to its end: handler, progress, outcome. Shared by every executor."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from imgopen.config import Settings
from imgopen.db.tables import Task
from imgopen.errors import ImgOpenError
from imgopen.media.inputs import ImageInputs
from imgopen.metrics import Metrics
from imgopen.storage.base import Storage
from imgopen.tasks.context import StopReason, StopSignal, TaskCancelled, TaskContext
from imgopen.tasks.handlers import BatchHandler, TaskHandler
from imgopen.tasks.insertion import Insertion
from imgopen.tasks.leases import LeaseKeeper
from imgopen.tasks.states import TaskState
from imgopen.tasks.store import TaskStore

log = logging.getLogger(__name__)


class TaskRunner:
    def __init__(
        self,
        store: TaskStore,
        handlers: Mapping[str, TaskHandler],
        settings: Settings,
        inputs: ImageInputs,
        storage: Storage,
        leases: LeaseKeeper,
        metrics: Metrics,
        on_finished: Callable[[str], None] = lambda _task_id: None,
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._settings = settings
        self._inputs = inputs
        self._storage = storage
        self._leases = leases
        self._metrics = metrics
        self._on_finished = on_finished

    def run(self, task: Task, owner: str, insertion: Insertion | None = None) -> None:
        """Run a claimed task; with `insertion`, one whose row is still being inserted."""
        stop = StopSignal()
        started = time.monotonic()
        writable = _Writable(self._leases, task.id, owner, stop, insertion, self._settings.lease_seconds)
        try:
            state = self._run(task, owner, stop, writable)
        finally:
            self._leases.release(task.id)
        self._announce(task, state, started)

    def _announce(self, task: Task, state: TaskState | None, started: float) -> None:
        if state is not None:
            self._on_finished(task.id)  # first: a long-polling client is waiting for this
            self._metrics.task_finished(task.kind, task.tool_code, state.value, time.monotonic() - started)

    def _context(
        self, task: Task, owner: str, stop: StopSignal, writable: Callable[[], bool] = lambda: True
    ) -> TaskContext:
        def sink(fraction: float, info: dict[str, Any] | None) -> None:
            if not writable():
                raise TaskCancelled()  # its submit made no task: the run ends here, dropped
            signals = self._store.set_progress(task.id, owner, fraction, info)
            if not signals.owned:
                stop.set(StopReason.LEASE_LOST)
            elif signals.cancel:
                stop.set(StopReason.CANCEL)
            stop.skips = signals.skips

        return TaskContext(task.id, task.key_id, self._settings, self._inputs, self._storage, sink=sink, stop=stop)

    def _run(self, task: Task, owner: str, stop: StopSignal, writable: _Writable) -> TaskState | None:
        ctx = self._context(task, owner, stop, writable)
        handler = self._handlers.get(task.kind)
        try:
            if handler is None:
                raise ImgOpenError("500", f"this server has no handler for tasks of kind {task.kind!r}")
            outcome: dict[str, Any] | BaseException = handler.run(task, ctx)
        except Exception as exc:
            outcome = exc
        if not writable():
            # The submit that started this run made no task: nothing of it is kept. Its outputs
            # lie under its own, fresh task id (the submitter's inputs it deletes itself).
            self._storage.delete_prefix(f"outputs/{task.id}")
            return None
        return self._settle(task, owner, ctx, stop, outcome)

    def _settle(
        self, task: Task, owner: str, ctx: TaskContext, stop: StopSignal, outcome: dict[str, Any] | BaseException
    ) -> TaskState | None:
        """The row's end from what the handler gave: its result, or the exception it raised."""
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            result = outcome
            if ctx.warnings:
                result = {**result, "warnings": ctx.warnings}
            # A cancel that arrived during the last step still wins: the user asked for it.
            ctx.check_cancelled()
            return self._finish(task, owner, ctx.stored_bytes, TaskState.SUCCESS, result=result)
        except TaskCancelled:
            return self._stopped(task, owner, stop, ctx.stored_bytes)
        except ImgOpenError as exc:
            return self._finish(task, owner, ctx.stored_bytes, TaskState.FAILED, error_code=exc.code, error_msg=exc.msg)
        except MemoryError:
            return self._finish(
                task,
                owner,
                ctx.stored_bytes,
                TaskState.FAILED,
                error_code="500",
                error_msg="out of memory while running this task",
            )
        except Exception as exc:
            log.error(
                "task %s (%s/%s) failed:\n%s",
                task.id,
                task.kind,
                task.tool_code,
                "".join(traceback.format_exception(exc)),
            )
            return self._finish(
                task,
                owner,
                ctx.stored_bytes,
                TaskState.FAILED,
                error_code="500",
                error_msg=f"internal error: {type(exc).__name__}: {exc} (logged under task {task.id})",
            )

    # --- batches of compatible tasks (coalesced generation) -------------------------------------
    def run_claimed(self, task: Task, owner: str, lease_ms: int, insertion: Insertion | None = None) -> list[Task]:
        """Run a task just claimed (`insertion`: see run), together with compatible queued ones when
        its handler runs batches (each of them claimed, leased and finished on its own); the tasks
        run."""
        handler = self._handlers.get(task.kind)
        limit = handler.batch_limit if isinstance(handler, BatchHandler) else 1
        key = handler.batch_key(task) if isinstance(handler, BatchHandler) and limit > 1 else None
        if key is None:
            self.run(task, owner, insertion)
            return [task]
        if insertion is not None and not insertion.wait(self._settings.lease_seconds):
            return []  # a batch starts once its first task's row exists: this one never will
        assert isinstance(handler, BatchHandler)
        tasks, images = [task], handler.batch_images(task)
        try:
            candidates = self._store.queued_like(task, limit=max(8, 2 * limit))
        except Exception:
            log.exception("task %s: could not look for tasks to run with it", task.id)
            candidates = []
        for candidate in candidates:
            count = handler.batch_images(candidate)
            if images + count > limit or handler.batch_key(candidate) != key:
                continue
            claimed = self._store.claim(candidate.id, owner, lease_ms)
            if claimed is not None:
                tasks.append(claimed)
                images += count
        if len(tasks) == 1:
            self.run(task, owner)
        else:
            log.info("tasks %s: run as one batch of %d images", ", ".join(t.id for t in tasks), images)
            self.run_batch(tasks, owner, handler)
        return tasks

    def run_batch(self, tasks: list[Task], owner: str, handler: BatchHandler) -> None:
        """Run claimed tasks as one batch: each keeps its own lease, context, progress, cancel
        and outcome, and is finished as soon as its outcome is known (a cancelled member at once)."""
        started = time.monotonic()
        stops = [StopSignal() for _ in tasks]
        for task, stop in zip(tasks, stops, strict=True):
            self._leases.hold(task.id, owner, stop)
        ctxs = [self._context(task, owner, stop) for task, stop in zip(tasks, stops, strict=True)]
        settled: set[int] = set()
        lock = threading.Lock()

        def done(index: int, outcome: dict[str, Any] | BaseException) -> None:
            with lock:
                if index in settled:
                    return
                settled.add(index)
            task = tasks[index]
            try:
                state = self._settle(task, owner, ctxs[index], stops[index], outcome)
            finally:
                self._leases.release(task.id)
            self._announce(task, state, started)

        try:
            handler.run_batch(tasks, ctxs, done)
        except Exception as exc:
            for index in range(len(tasks)):
                done(index, exc)
        finally:
            for index in range(len(tasks)):
                done(index, RuntimeError("the batch ended without an outcome for this task"))

    def _stopped(self, task: Task, owner: str, stop: StopSignal, written: int) -> TaskState | None:
        if stop.reason == StopReason.SHUTDOWN:
            self._store.release(task.id, owner)
            return None
        if stop.reason == StopReason.LEASE_LOST:
            log.warning("task %s: lease lost; another worker owns it now, this run's outcome is dropped", task.id)
            return None
        return self._finish(task, owner, written, TaskState.CANCELLED, error_msg="cancelled while running")

    def _finish(self, task: Task, owner: str, written: int, state: TaskState, **outcome: Any) -> TaskState | None:
        """`written`: the bytes the run put in storage (counted for the key's storage quota)."""
        if self._store.finish(task.id, owner, state, stored_bytes=written, **outcome):
            return state
        log.warning("task %s: finished as %s but its lease was gone; outcome dropped", task.id, state.value)
        return None


class _Writable:
    """Whether a run may write (progress, its outcome): a claimed task at once; one handed over
    before its insert (tasks/insertion.py) once its row exists, never when the insert was refused.
    The lease is held from the row's first moment: at once, or when the insert is made."""

    def __init__(
        self,
        leases: LeaseKeeper,
        task_id: str,
        owner: str,
        stop: StopSignal,
        insertion: Insertion | None,
        timeout: float,
    ) -> None:
        self._insertion, self._timeout = insertion, timeout
        self._writable = insertion is None
        if insertion is None:
            leases.hold(task_id, owner, stop)
        else:
            insertion.when_made(lambda: leases.hold(task_id, owner, stop))

    def __call__(self) -> bool:
        if self._insertion is not None:
            # An insert takes milliseconds; one not decided in a lease's time never will be.
            self._writable = self._insertion.wait(self._timeout)
            self._insertion = None
        return self._writable
