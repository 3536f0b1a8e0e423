"""The task store: every state change of every task goes through here, as one conditional update.

The table is the single source of truth; executors only move rows along the state machine
(tasks/states.py). Each change is guarded by the state (and lease owner) it expects, so two
workers, a restart or a cancel racing each other can never both win.

The statements are built once, with bound parameters, and run on a Core connection (no ORM session):
building and ORM-executing a statement per call cost more than the rest of a submit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar, cast

from sqlalchemy import Float, Table, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class

from imgopen.accounts.quotas import add_stored_bytes, charge
from imgopen.clock import now_ms
from imgopen.db.direct import DirectStatement
from imgopen.db.engine import Database, rowcount
from imgopen.db.tables import CallbackDelivery, Task
from imgopen.errors import ImgOpenError
from imgopen.tasks.ids import new_task_id
from imgopen.tasks.states import TaskState

V = TypeVar("V")
_OWNERS_KEPT = 4096
_ENDED_KEPT = 64  # rows hold their params: inline images up to 96 KB each
_HERE_KEPT = 64
ACTIVE_STATES = (TaskState.QUEUED.value, TaskState.RUNNING.value)
QUEUED, RUNNING = TaskState.QUEUED.value, TaskState.RUNNING.value
T = cast(Table, Task.__table__)
C = cast(Table, CallbackDelivery.__table__)
_TASK_CLASS = manager_of_class(Task)

# DirectStatement: the statements of a task's submit, progress and end, run on the driver directly.
_BY_ID = DirectStatement(select(T).where(T.c.id == bindparam("id")))
_OWNER_BY_ID = DirectStatement(select(T.c.key_id).where(T.c.id == bindparam("id")))
_BY_BUSINESS_ID = DirectStatement(
    select(T).where(T.c.key_id == bindparam("key_id"), T.c.business_task_id == bindparam("bid"))
)
_HASH_BY_BUSINESS_ID = select(T.c.id, T.c.body_hash).where(
    T.c.key_id == bindparam("key_id"), T.c.business_task_id == bindparam("bid")
)
# With the index (key_id, state), this reads at most `skip` + 1 index entries.
_ACTIVE_BEYOND = DirectStatement(
    select(T.c.seq)
    .where(T.c.key_id == bindparam("key_id"), or_(*(T.c.state == state for state in ACTIVE_STATES)))
    .offset(bindparam("skip"))
    .limit(1)
)
_INSERT = DirectStatement(insert(T).returning(T.c.seq))
_AHEAD = (
    select(func.count())
    .select_from(T)
    .where(
        T.c.state == QUEUED,
        T.c.pool == bindparam("pool"),
        or_(
            T.c.priority > bindparam("priority"),
            and_(T.c.priority == bindparam("priority"), T.c.seq < bindparam("seq")),
        ),
    )
)
# (UPDATE statements may not name a bound parameter like a column: hence the b_ prefix.)
_OWNED_RUNNING = and_(T.c.id == bindparam("b_id"), T.c.lease_owner == bindparam("b_owner"), T.c.state == RUNNING)
_RENEW = DirectStatement(
    update(T).where(_OWNED_RUNNING).values(lease_expires_at=bindparam("b_expires")).returning(T.c.cancel_requested)
)
_PROGRESS = DirectStatement(
    update(T)
    .where(_OWNED_RUNNING)
    .values(progress=bindparam("b_progress"), progress_info=bindparam("b_info"), updated_at=bindparam("b_now"))
    .returning(T.c.cancel_requested, T.c.skip_requested)
)
_INSERT_CALLBACK = DirectStatement(insert(C))


def _claim_update(chosen: Any) -> Any:
    """The queued task `chosen` (a condition) moved to running under b_owner's lease until b_expires."""
    return (
        update(T)
        .where(chosen, T.c.state == QUEUED)
        .values(
            state=RUNNING,
            lease_owner=bindparam("b_owner"),
            lease_expires_at=bindparam("b_expires"),
            attempts=T.c.attempts + 1,
            started_at=func.coalesce(T.c.started_at, bindparam("b_now")),
            progress=0.0,
            progress_info=None,
            updated_at=bindparam("b_now"),
        )
        .returning(*T.c)
    )


_CLAIM_BY_ID = _claim_update(T.c.id == bindparam("b_id"))


def _claim_statement(skip_locked: bool, affinity: bool) -> Any:
    order: list[Any] = [T.c.priority.desc()]
    if affinity:
        # A task for a checkpoint this worker has loaded comes first; so does one that has waited
        # longer than the affinity wait (no task starves behind others' warm models).
        preferred = or_(T.c.affinity.in_(bindparam("b_prefer", expanding=True)), T.c.created_at < bindparam("b_waited"))
        order.append(case((preferred, 0), else_=1))
    order.append(T.c.seq)
    pick = (
        select(T.c.seq)
        .where(T.c.state == QUEUED, T.c.pool.in_(bindparam("b_pools", expanding=True)))
        .order_by(*order)
        .limit(1)
    )
    if skip_locked:
        pick = pick.with_for_update(skip_locked=True)
    return _claim_update(T.c.seq == pick.scalar_subquery())


def _finish_statement(owned: bool, from_state: str) -> DirectStatement:
    conditions = [T.c.id == bindparam("b_id"), T.c.state == from_state]
    if owned:
        conditions.append(T.c.lease_owner == bindparam("b_owner"))
    return DirectStatement(
        update(T)
        .where(*conditions)
        .values(
            state=bindparam("b_state"),
            updated_at=bindparam("b_now"),
            finished_at=bindparam("b_now"),
            lease_owner=None,
            lease_expires_at=None,
            result=bindparam("b_result", type_=T.c.result.type),
            error_code=bindparam("b_error_code"),
            error_msg=bindparam("b_error_msg"),
            progress=func.coalesce(bindparam("b_progress", type_=Float), T.c.progress),
            progress_info=None,
            stored_bytes=T.c.stored_bytes + bindparam("b_stored"),
        )
        .returning(*T.c)
    )


_CLAIMS = {(skip, affinity): _claim_statement(skip, affinity) for skip in (False, True) for affinity in (False, True)}
# (owned: the finisher holds the lease, the state it ends from)
_FINISHES = {(owned, state): _finish_statement(owned, state) for owned in (False, True) for state in (QUEUED, RUNNING)}


def _business_key(key_id: str, business_task_id: str) -> str:
    return f"{key_id}\n{business_task_id}"


def _detached(values: Mapping[Any, Any]) -> Task:
    """A detached Task holding `values` (no session needed to read its attributes). Made as the ORM
    makes the objects it loads, without the constructor: that sets each attribute through its
    instrumentation, a tenth of a millisecond per task on a hot path that makes two or three."""
    task: Task = _TASK_CLASS.new_instance()
    task.__dict__.update(values)
    return task


def _task(row: Any) -> Task | None:
    """A row of the tasks table (SQLAlchemy's or a DirectStatement's) as a detached Task."""
    return None if row is None else _detached(row._mapping)


def _conflict(business_task_id: str) -> ImgOpenError:
    return ImgOpenError(
        "409", f"businessTaskId {business_task_id!r} was already used by this key with a different body"
    )


def _too_many(max_active: int) -> ImgOpenError:
    return ImgOpenError("429", f"this key already has {max_active} tasks queued or running; wait for some to end")


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
    affinity: str | None = None
    images: int = 0  # images asked for: the key's images-per-day quota
    stored_bytes: int = 0  # inputs kept in storage: the key's storage quota
    # Inserted already claimed by this lease owner (an idle worker of this process reserved for
    # it: no claim transaction), for lease_ms.
    lease_owner: str | None = None
    lease_ms: int = 0


class PlannedRow(NamedTuple):
    task: Task  # as it will be inserted (no seq yet)
    values: dict[str, Any]


class Signals(NamedTuple):
    owned: bool  # the run still holds the task's lease
    cancel: bool
    skips: int  # skips requested so far (a counter)


@dataclass(frozen=True)
class PoolStats:
    state: str
    pool: str
    count: int
    oldest_ms: int  # when the oldest of them was queued (or last changed, for running ones)


@dataclass(frozen=True)
class Recovered:
    task_id: str
    requeued: bool


class _Newest(Generic[V]):
    """The newest `size` values by task id, safe across threads (oldest dropped first)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, task_id: str) -> V | None:
        with self._lock:
            return self._items.get(task_id)

    def put(self, task_id: str, value: V) -> None:
        with self._lock:
            self._items[task_id] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, task_id: str) -> None:
        with self._lock:
            self._items.pop(task_id, None)


class TaskStore:
    def __init__(self, db: Database, task_prefix: str = "loc") -> None:
        configure_mappers()  # the ORM's attributes are set up lazily, by the first constructor: _detached has none
        self._db = db
        self._prefix = task_prefix
        # Task id -> its key: it never changes, and every input a worker reads asks it (the
        # cross-key check of ImageInputs), so the newest ones are kept.
        self._owners: _Newest[str] = _Newest(_OWNERS_KEPT)
        # Task id -> its row as it ended here: a long-polling query woken by that end answers
        # from it instead of reading the row again (the final row no longer changes then).
        self._ended: _Newest[Task] = _Newest(_ENDED_KEPT)
        # (key, businessTaskId) -> the task as inserted, for tasks inserted with a worker of this
        # process holding them: until their end (which `_ended` tells), they run here.
        self._here: _Newest[Task] = _Newest(_HERE_KEPT)

    def _one(self, statement: Any, params: Mapping[str, Any]) -> Any:
        with self._db.reading() as connection:
            if isinstance(statement, DirectStatement):
                return statement.run(connection, params).first()
            return connection.execute(statement, params).first()

    # --- submit and read ------------------------------------------------------------------------
    def new_id(self) -> str:
        return new_task_id(self._prefix)

    def find(self, key_id: str, business_task_id: str) -> Task | None:
        return _task(self._one(_BY_BUSINESS_ID, {"key_id": key_id, "bid": business_task_id}))

    def get(self, task_id: str) -> Task | None:
        return _task(self._one(_BY_ID, {"id": task_id}))

    def owner_of(self, task_id: str) -> str | None:
        """The access key that submitted the task (None: no such task)."""
        known = self._owners.get(task_id)
        if known is not None:
            return known
        row = self._one(_OWNER_BY_ID, {"id": task_id})
        if row is None:
            return None
        self._owners.put(task_id, str(row.key_id))
        return str(row.key_id)

    def ended(self, task_id: str) -> Task | None:
        """The task's final row if it ended recently in this process (None: ask the database)."""
        return self._ended.get(task_id)

    def running_here(self, key_id: str, business_task_id: str) -> Task | None:
        """The key's task of that businessTaskId as inserted, if a worker of this process took it
        at its insert and it has not ended here since (its row says queued or running): a query
        that will wait for its end needs no read of the row. None: ask the database."""
        task = self._here.get(_business_key(key_id, business_task_id))
        if task is None or self._ended.get(task.id) is not None:
            return None
        return task

    def existing_or_conflict(self, key_id: str, business_task_id: str, body_hash: str) -> Task | None:
        """The task already made for this businessTaskId with the same body; "409" for another body."""
        task = self.find(key_id, business_task_id)
        if task is not None and task.body_hash != body_hash:
            raise _conflict(business_task_id)
        return task

    def check_submit(self, key_id: str, business_task_id: str, body_hash: str, max_active: int) -> str | None:
        """Before a submit, in one read: the id of the task this businessTaskId already made with
        the same body (None if new); "409" for another body, "429" when the key has `max_active`
        tasks queued or running."""
        with self._db.reading() as connection:
            row = connection.execute(_HASH_BY_BUSINESS_ID, {"key_id": key_id, "bid": business_task_id}).first()
            if row is not None:
                if row.body_hash != body_hash:
                    raise _conflict(business_task_id)
                return str(row.id)
            over = _ACTIVE_BEYOND.run(connection, {"key_id": key_id, "skip": max_active - 1}).first()
        if over is not None:
            raise _too_many(max_active)
        return None

    def plan(self, new: NewTask) -> PlannedRow:
        """The row that submit(new, planned=...) inserts, before it is (see tasks/insertion.py).
        The task's key is known from now on: its worker may read the inputs stored under its id."""
        values = self._values(new)
        self._owners.put(values["id"], new.key_id)
        return PlannedRow(_detached({"seq": None, **values}), values)

    def _values(self, new: NewTask) -> dict[str, Any]:
        now = now_ms()
        return {
            "id": new.task_id or self.new_id(),
            "kind": new.kind,
            "tool_code": new.tool_code,
            "key_id": new.key_id,
            "business_task_id": new.business_task_id,
            "pool": new.pool,
            "priority": new.priority,
            "params": new.params,
            "body_hash": new.body_hash,
            "callback_url": new.callback_url,
            "state": QUEUED if new.lease_owner is None else RUNNING,
            "progress": 0.0,
            "progress_info": None,
            "result": None,
            "error_code": None,
            "error_msg": None,
            "attempts": 0 if new.lease_owner is None else 1,
            "cancel_requested": False,
            "skip_requested": 0,
            "created_at": now,
            "updated_at": now,
            "started_at": None if new.lease_owner is None else now,
            "finished_at": None,
            "lease_owner": new.lease_owner,
            "lease_expires_at": None if new.lease_owner is None else now + new.lease_ms,
            "affinity": new.affinity,
            "images": new.images,
            "stored_bytes": new.stored_bytes,
            "files_expired_at": None,
        }

    def submit(
        self, new: NewTask, max_active: int | None = None, planned: PlannedRow | None = None
    ) -> tuple[Task, bool]:
        """Insert the task (queued, or running under new.lease_owner); (task, True) when made now,
        (existing task, False) when this key already made it with the same body. "409" for another
        body, "429" when the key already has `max_active` tasks queued or running. One transaction:
        the checks and the insert cannot be raced. `planned`: the row as plan(new) made it."""
        values = self._values(new) if planned is None else planned.values
        # The insert comes first and the unique (key, businessTaskId) decides whether the task is
        # new: no read before it. A refusal (429, 403) or a clash then looks for the task this key
        # already made: a resubmit is answered with it, whatever the limits say now.
        try:
            with self._db.writing() as connection:
                if max_active is not None:
                    over = _ACTIVE_BEYOND.run(connection, {"key_id": new.key_id, "skip": max_active - 1}).first()
                    if over is not None:
                        raise _too_many(max_active)
                charge(connection, new.key_id, new.images, new.stored_bytes)
                seq = _INSERT.run(connection, values).scalar_one()
        except (IntegrityError, ImgOpenError):
            existing = self.existing_or_conflict(new.key_id, new.business_task_id, new.body_hash)
            if existing is None:  # not a twin of this task (a refusal, or a task id clash): surface it
                raise
            return existing, False
        self._owners.put(values["id"], new.key_id)
        task = _detached({"seq": seq, **values})
        if new.lease_owner is not None:
            self._here.put(_business_key(new.key_id, new.business_task_id), task)
        return task, True

    def active(self, key_id: str, kind: str) -> list[Task]:
        """The key's tasks of `kind` queued or running: the running ones first, then in queue order."""
        with self._db.reading() as connection:
            rows = connection.execute(
                select(T)
                .where(T.c.key_id == key_id, T.c.kind == kind, T.c.state.in_(ACTIVE_STATES))
                .order_by(case((T.c.state == RUNNING, 0), else_=1), T.c.seq)
            )
            return [task for row in rows if (task := _task(row)) is not None]

    @staticmethod
    def _of_key(key_id: str, kind: str | None, state: str | None) -> list[Any]:
        """The WHERE of a key's task listing: key_id first, so the (key_id, state) index serves it."""
        conditions: list[Any] = [T.c.key_id == key_id]
        if state is not None:
            conditions.append(T.c.state == state)
        if kind is not None:
            conditions.append(T.c.kind == kind)
        return conditions

    def list_for_key(
        self, key_id: str, kind: str | None = None, state: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[Task]:
        """The key's tasks, newest first (by submission order), optionally of one kind and state."""
        with self._db.reading() as connection:
            rows = connection.execute(
                select(T).where(*self._of_key(key_id, kind, state)).order_by(T.c.seq.desc()).limit(limit).offset(offset)
            )
            return [task for row in rows if (task := _task(row)) is not None]

    def count_for_key(self, key_id: str, kind: str | None = None, state: str | None = None) -> int:
        """How many tasks list_for_key finds over all pages."""
        row = self._one(select(func.count()).select_from(T).where(*self._of_key(key_id, kind, state)), {})
        return int(row[0]) if row is not None else 0

    def queue_position(self, task: Task) -> int | None:
        """1 for the next task to run in its pool; None when not queued."""
        if task.state != QUEUED:
            return None
        row = self._one(_AHEAD, {"pool": task.pool, "priority": task.priority, "seq": task.seq})
        return int(row[0] if row else 0) + 1

    def counts(self) -> dict[tuple[str, str], int]:
        """(state, pool) -> number of tasks, for the active states (metrics, readiness)."""
        return {(stats.state, stats.pool): stats.count for stats in self.pool_stats()}

    def pool_stats(self) -> list[PoolStats]:
        """Per active state and pool: how many tasks, and since when the oldest waits."""
        with self._db.reading() as connection:
            rows = connection.execute(
                select(T.c.state, T.c.pool, func.count(), func.min(T.c.updated_at))
                .where(T.c.state.in_(ACTIVE_STATES))
                .group_by(T.c.state, T.c.pool)
            ).all()
        return [PoolStats(state, pool, int(n), int(oldest)) for state, pool, n, oldest in rows]

    def waiting_since(self, before_ms: int) -> dict[str, int]:
        """Pool -> tasks queued (or queued again) before `before_ms`: those a worker should have
        taken by now."""
        with self._db.reading() as connection:
            rows = connection.execute(
                select(T.c.pool, func.count()).where(T.c.state == QUEUED, T.c.updated_at < before_ms).group_by(T.c.pool)
            ).all()
        return {pool: int(n) for pool, n in rows}

    # --- the worker side ------------------------------------------------------------------------
    def claim_next(
        self, pools: Iterable[str], owner: str, lease_ms: int, prefer: Sequence[str] = (), affinity_wait_ms: int = 0
    ) -> Task | None:
        """Move the best queued task of these pools to running under `owner`'s lease (one UPDATE
        ... RETURNING; on PostgreSQL, rows other workers are claiming are skipped). Best: the
        oldest, or with `prefer` (the checkpoints this worker has loaded), the oldest that wants
        one of them or has waited `affinity_wait_ms` already."""
        now = now_ms()
        params: dict[str, Any] = {"b_pools": list(pools), "b_owner": owner, "b_expires": now + lease_ms, "b_now": now}
        if prefer:
            params |= {"b_prefer": list(prefer), "b_waited": now - affinity_wait_ms}
        claim = _CLAIMS[(self._db.is_postgres, bool(prefer))]
        with self._db.writing() as connection:
            return _task(connection.execute(claim, params).first())

    def queued_like(self, task: Task, limit: int) -> list[Task]:
        """Up to `limit` queued tasks of the same pool, kind, mode and checkpoint as `task`, in queue
        order: the candidates to run in one batch with it (each then claimed on its own, claim())."""
        affinity = T.c.affinity.is_(None) if task.affinity is None else T.c.affinity == task.affinity
        statement = (
            select(T)
            .where(
                T.c.state == QUEUED,
                T.c.pool == task.pool,
                T.c.kind == task.kind,
                T.c.tool_code == task.tool_code,
                affinity,
                T.c.id != task.id,
            )
            .order_by(T.c.priority.desc(), T.c.seq)
            .limit(limit)
        )
        with self._db.reading() as connection:
            rows = connection.execute(statement)
            return [found for row in rows if (found := _task(row)) is not None]

    def claim(self, task_id: str, owner: str, lease_ms: int) -> Task | None:
        """Claim one queued task by id (a synchronous tool running in its request's thread)."""
        now = now_ms()
        params = {"b_id": task_id, "b_owner": owner, "b_expires": now + lease_ms, "b_now": now}
        with self._db.writing() as connection:
            return _task(connection.execute(_CLAIM_BY_ID, params).first())

    def renew_lease(self, task_id: str, owner: str, lease_ms: int) -> tuple[bool, bool]:
        """(still ours, cancel requested) after extending the lease."""
        with self._db.writing() as connection:
            row = _RENEW.run(connection, {"b_id": task_id, "b_owner": owner, "b_expires": now_ms() + lease_ms}).first()
        return (False, True) if row is None else (True, bool(row.cancel_requested))

    def set_progress(self, task_id: str, owner: str, progress: float, info: dict[str, Any] | None) -> Signals:
        """What the task should know after recording its progress: a cancel or a skip from any
        process reaches the running task at its next report, not only at the next lease renewal."""
        params = {"b_id": task_id, "b_owner": owner, "b_progress": max(0.0, min(1.0, progress)), "b_info": info}
        with self._db.writing() as connection:
            row = _PROGRESS.run(connection, {**params, "b_now": now_ms()}).first()
        if row is None:
            return Signals(owned=False, cancel=True, skips=0)
        return Signals(owned=True, cancel=bool(row.cancel_requested), skips=int(row.skip_requested or 0))

    def request_skip(self, task_id: str) -> bool:
        """Ask a running task to end its current image and go on (False: it is not running)."""
        with self._db.writing() as connection:
            done = connection.execute(
                update(T)
                .where(T.c.id == task_id, T.c.state == RUNNING)
                .values(skip_requested=T.c.skip_requested + 1, updated_at=now_ms())
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
        from_state: str = RUNNING,
        stored_bytes: int = 0,
    ) -> bool:
        """Move the task to a final state (and queue its callback) if it is still in `from_state`
        and, when `owner` is given, still leased by it. False when someone else got there first.
        `stored_bytes`: what the run wrote to storage, added to the task's and its key's count."""
        now = now_ms()
        params = {
            "b_id": task_id,
            "b_owner": owner,
            "b_state": state.value,
            "b_now": now,
            "b_result": result,
            "b_error_code": None if state == TaskState.SUCCESS else error_code,
            "b_error_msg": None if state == TaskState.SUCCESS else error_msg,
            "b_progress": 1.0 if state == TaskState.SUCCESS else None,
            "b_stored": stored_bytes,
        }
        with self._db.writing() as connection:
            done = _FINISHES[(owner is not None, from_state)].run(connection, params).first()
            if done is None:
                return False
            ended = _task(done)
            add_stored_bytes(connection, done.key_id, stored_bytes)
            if done.callback_url:
                _INSERT_CALLBACK.run(
                    connection,
                    {
                        "task_id": task_id,
                        "key_id": done.key_id,
                        "url": done.callback_url,
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_error": None,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        assert ended is not None
        self._ended.put(task_id, ended)
        self._here.drop(_business_key(ended.key_id, ended.business_task_id))
        return True

    # --- cancel and recovery --------------------------------------------------------------------
    def cancel(self, task: Task) -> TaskState:
        """Drop a queued task, flag a running one; the state after the call."""
        if self.finish(task.id, None, TaskState.CANCELLED, error_msg="cancelled before it started", from_state=QUEUED):
            return TaskState.CANCELLED
        with self._db.writing() as connection:
            connection.execute(
                update(T)
                .where(T.c.id == task.id, T.c.state == RUNNING)
                .values(cancel_requested=True, updated_at=now_ms())
            )
            state = connection.execute(select(T.c.state).where(T.c.id == task.id)).scalar()
        return TaskState(state or TaskState.FAILED.value)

    def release(self, task_id: str, owner: str) -> bool:
        """Give a running task back to the queue (graceful shutdown): the run does not count."""
        return self._requeue(task_id, owner, count_attempt=False)

    def _requeue(self, task_id: str, owner: str | None, count_attempt: bool) -> bool:
        values: dict[str, Any] = {
            "state": QUEUED,
            "lease_owner": None,
            "lease_expires_at": None,
            "progress": 0.0,
            "progress_info": None,
            "updated_at": now_ms(),
        }
        if not count_attempt:
            values["attempts"] = T.c.attempts - 1
        with self._db.writing() as connection:
            done = connection.execute(
                update(T).where(T.c.id == task_id, T.c.lease_owner == owner, T.c.state == RUNNING).values(**values)
            )
            return rowcount(done) == 1

    def recover_expired(self, max_attempts: int, alive: frozenset[str] = frozenset()) -> list[Recovered]:
        """Running tasks whose worker stopped renewing its lease: queued again once, then failed.
        Tasks in `alive` are known to run in the caller's process (a starved lease thread, not a
        dead worker) and are left alone."""
        with self._db.reading() as connection:
            stale = connection.execute(
                select(T.c.id, T.c.attempts, T.c.lease_owner, T.c.cancel_requested).where(
                    T.c.state == RUNNING, T.c.lease_expires_at < now_ms()
                )
            ).all()
        out: list[Recovered] = []
        for task_id, attempts, owner, cancel_requested in stale:
            if task_id in alive:
                continue
            if cancel_requested:
                if self.finish(task_id, owner, TaskState.CANCELLED, error_msg="cancelled"):
                    out.append(Recovered(task_id, False))
            elif attempts < max_attempts:
                if self._requeue(task_id, owner, count_attempt=True):
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
