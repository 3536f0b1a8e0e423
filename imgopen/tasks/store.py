"""The task store: every state change of every task goes through here, as one conditional update.

The table is the single source of truth; executors only move rows along the state machine
(tasks/states.py). Each change is guarded by the state (and lease owner) it expects, so two
workers, a restart or a cancel racing each other can never both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from imgopen.clock import now_ms
from imgopen.db.engine import rowcount
from imgopen.db.tables import CallbackDelivery, Task
from imgopen.errors import ImgOpenError
from imgopen.tasks.ids import new_task_id
from imgopen.tasks.states import TaskState

ACTIVE_STATES = (TaskState.QUEUED.value, TaskState.RUNNING.value)


@dataclass(frozen=True)
class NewTask:
    kind: str
    tool_code: str
    key_id: str
    business_task_id: str
    pool: str
    params: dict[str, Any]
    body_hash: str
    callback_url: str | None = None
    task_id: str | None = None
    priority: int = 0


@dataclass(frozen=True)
class Recovered:
    task_id: str
    requeued: bool


class TaskStore:
    def __init__(self, sessions: sessionmaker[Session], task_prefix: str = "loc") -> None:
        self._sessions = sessions
        self._prefix = task_prefix
        self._is_postgres = sessions.kw["bind"].dialect.name == "postgresql"

    # --- submit and read ------------------------------------------------------------------------
    def new_id(self) -> str:
        return new_task_id(self._prefix)

    def find(self, key_id: str, business_task_id: str) -> Task | None:
        with self._sessions() as session:
            return session.scalar(select(Task).where(Task.key_id == key_id, Task.business_task_id == business_task_id))

    def get(self, task_id: str) -> Task | None:
        with self._sessions() as session:
            return session.scalar(select(Task).where(Task.id == task_id))

    def existing_or_conflict(self, key_id: str, business_task_id: str, body_hash: str) -> Task | None:
        """The task already made for this businessTaskId with the same body; "409" for another body."""
        task = self.find(key_id, business_task_id)
        if task is not None and task.body_hash != body_hash:
            raise ImgOpenError(
                "409",
                f"businessTaskId {business_task_id!r} was already used by this key with a different body",
            )
        return task

    def active_count(self, key_id: str) -> int:
        with self._sessions() as session:
            count = session.scalar(
                select(func.count()).select_from(Task).where(Task.key_id == key_id, Task.state.in_(ACTIVE_STATES))
            )
            return int(count or 0)

    def submit(self, new: NewTask) -> tuple[Task, bool]:
        """Insert the task; (task, True) when made now, (existing task, False) when it existed."""
        now = now_ms()
        task = Task(
            id=new.task_id or self.new_id(),
            kind=new.kind,
            tool_code=new.tool_code,
            key_id=new.key_id,
            business_task_id=new.business_task_id,
            pool=new.pool,
            priority=new.priority,
            params=new.params,
            body_hash=new.body_hash,
            callback_url=new.callback_url,
            state=TaskState.QUEUED.value,
            progress=0.0,
            attempts=0,
            cancel_requested=False,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                session.add(task)
        except IntegrityError:
            existing = self.existing_or_conflict(new.key_id, new.business_task_id, new.body_hash)
            if existing is None:  # the conflict was not ours (a task id clash): surface it
                raise
            return existing, False
        return task, True

    def queue_position(self, task: Task) -> int | None:
        """1 for the next task to run in its pool; None when not queued."""
        if task.state != TaskState.QUEUED.value:
            return None
        with self._sessions() as session:
            ahead = session.scalar(
                select(func.count())
                .select_from(Task)
                .where(
                    Task.state == TaskState.QUEUED.value,
                    Task.pool == task.pool,
                    or_(
                        Task.priority > task.priority,
                        and_(Task.priority == task.priority, Task.seq < task.seq),
                    ),
                )
            )
            return int(ahead or 0) + 1

    def counts(self) -> dict[tuple[str, str], int]:
        """(state, pool) -> number of tasks, for the active states (metrics, readiness)."""
        with self._sessions() as session:
            rows = session.execute(
                select(Task.state, Task.pool, func.count())
                .where(Task.state.in_(ACTIVE_STATES))
                .group_by(Task.state, Task.pool)
            ).all()
            return {(state, pool): int(n) for state, pool, n in rows}

    # --- the worker side ------------------------------------------------------------------------
    def claim_next(self, pools: Iterable[str], owner: str, lease_ms: int) -> Task | None:
        """Move the oldest queued task of these pools to running under `owner`'s lease."""
        pool_list = list(pools)
        for _ in range(8):
            with self._sessions.begin() as session:
                pick = (
                    select(Task.seq)
                    .where(Task.state == TaskState.QUEUED.value, Task.pool.in_(pool_list))
                    .order_by(Task.priority.desc(), Task.seq)
                    .limit(1)
                )
                if self._is_postgres:
                    pick = pick.with_for_update(skip_locked=True)
                seq = session.scalar(pick)
                if seq is None:
                    return None
                now = now_ms()
                claimed = session.execute(
                    update(Task)
                    .where(Task.seq == seq, Task.state == TaskState.QUEUED.value)
                    .values(
                        state=TaskState.RUNNING.value,
                        lease_owner=owner,
                        lease_expires_at=now + lease_ms,
                        attempts=Task.attempts + 1,
                        started_at=func.coalesce(Task.started_at, now),
                        progress=0.0,
                        progress_info=None,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if rowcount(claimed) == 1:
                    return session.scalar(select(Task).where(Task.seq == seq))
        return None

    def renew_lease(self, task_id: str, owner: str, lease_ms: int) -> tuple[bool, bool]:
        """(still ours, cancel requested) after extending the lease."""
        now = now_ms()
        with self._sessions.begin() as session:
            renewed = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.lease_owner == owner, Task.state == TaskState.RUNNING.value)
                .values(lease_expires_at=now + lease_ms)
                .execution_options(synchronize_session=False)
            )
            if rowcount(renewed) != 1:
                return False, True
            cancel = session.scalar(select(Task.cancel_requested).where(Task.id == task_id))
            return True, bool(cancel)

    def set_progress(self, task_id: str, owner: str, progress: float, info: dict[str, Any] | None) -> bool:
        with self._sessions.begin() as session:
            done = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.lease_owner == owner, Task.state == TaskState.RUNNING.value)
                .values(progress=max(0.0, min(1.0, progress)), progress_info=info, updated_at=now_ms())
                .execution_options(synchronize_session=False)
            )
            return rowcount(done) == 1

    def finish(
        self,
        task_id: str,
        owner: str | None,
        state: TaskState,
        result: dict[str, Any] | None = None,
        error_code: str | None = None,
        error_msg: str | None = None,
        from_states: tuple[str, ...] = (TaskState.RUNNING.value,),
    ) -> bool:
        """Move the task to a final state (and queue its callback) if it is still in `from_states`
        and, when `owner` is given, still leased by it. False when someone else got there first."""
        now = now_ms()
        values: dict[str, Any] = {
            "state": state.value,
            "updated_at": now,
            "finished_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if state == TaskState.SUCCESS:
            values.update(progress=1.0, progress_info=None, result=result)
        else:
            values.update(error_code=error_code, error_msg=error_msg, result=result)
        conditions = [Task.id == task_id, Task.state.in_(from_states)]
        if owner is not None:
            conditions.append(Task.lease_owner == owner)
        with self._sessions.begin() as session:
            done = session.execute(
                update(Task).where(*conditions).values(**values).execution_options(synchronize_session=False)
            )
            if rowcount(done) != 1:
                return False
            self._queue_callback(session, task_id, now)
            return True

    def _queue_callback(self, session: Session, task_id: str, now: int) -> None:
        row = session.execute(select(Task.callback_url, Task.key_id).where(Task.id == task_id)).one()
        if row.callback_url:
            session.add(
                CallbackDelivery(
                    task_id=task_id,
                    key_id=row.key_id,
                    url=row.callback_url,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )

    # --- cancel and recovery --------------------------------------------------------------------
    def cancel(self, task: Task) -> TaskState:
        """Drop a queued task, flag a running one; the state after the call."""
        if self.finish(
            task.id,
            None,
            TaskState.CANCELLED,
            error_msg="cancelled before it started",
            from_states=(TaskState.QUEUED.value,),
        ):
            return TaskState.CANCELLED
        with self._sessions.begin() as session:
            session.execute(
                update(Task)
                .where(Task.id == task.id, Task.state == TaskState.RUNNING.value)
                .values(cancel_requested=True, updated_at=now_ms())
                .execution_options(synchronize_session=False)
            )
            state = session.scalar(select(Task.state).where(Task.id == task.id))
        return TaskState(state or TaskState.FAILED.value)

    def release(self, task_id: str, owner: str) -> bool:
        """Give a running task back to the queue (graceful shutdown): the run does not count."""
        with self._sessions.begin() as session:
            done = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.lease_owner == owner, Task.state == TaskState.RUNNING.value)
                .values(
                    state=TaskState.QUEUED.value,
                    attempts=Task.attempts - 1,
                    lease_owner=None,
                    lease_expires_at=None,
                    progress=0.0,
                    progress_info=None,
                    updated_at=now_ms(),
                )
                .execution_options(synchronize_session=False)
            )
            return rowcount(done) == 1

    def recover_expired(self, max_attempts: int) -> list[Recovered]:
        """Running tasks whose worker stopped renewing its lease: queued again once, then failed."""
        now = now_ms()
        out: list[Recovered] = []
        with self._sessions() as session:
            stale = session.execute(
                select(Task.id, Task.attempts, Task.lease_owner, Task.cancel_requested).where(
                    Task.state == TaskState.RUNNING.value, Task.lease_expires_at < now
                )
            ).all()
        for task_id, attempts, owner, cancel_requested in stale:
            if cancel_requested:
                if self.finish(task_id, owner, TaskState.CANCELLED, error_msg="cancelled"):
                    out.append(Recovered(task_id, False))
            elif attempts < max_attempts:
                with self._sessions.begin() as session:
                    done = session.execute(
                        update(Task)
                        .where(Task.id == task_id, Task.state == TaskState.RUNNING.value, Task.lease_owner == owner)
                        .values(
                            state=TaskState.QUEUED.value,
                            lease_owner=None,
                            lease_expires_at=None,
                            progress=0.0,
                            progress_info=None,
                            updated_at=now,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    if rowcount(done) == 1:
                        out.append(Recovered(task_id, True))
            elif self.finish(
                task_id,
                owner,
                TaskState.FAILED,
                error_code="500",
                error_msg=(
                    f"the worker running this task stopped before it finished ({attempts} attempts: "
                    "server restart or crash); not retried again"
                ),
            ):
                out.append(Recovered(task_id, False))
        return out
