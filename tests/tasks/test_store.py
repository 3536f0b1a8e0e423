"""The task store on SQLite and PostgreSQL: idempotent submit, exclusive claims, leases, recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from imgopen.db.engine import Database, open_database
from imgopen.errors import ImgOpenError
from imgopen.tasks.states import TaskState, sd_status, tool_status
from imgopen.tasks.store import NewTask, TaskStore
from tests.conftest import SettingsFactory


@pytest.fixture(scope="module")
def database(make_settings: SettingsFactory) -> Iterator[Database]:
    db = open_database(make_settings())
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def store(database: Database) -> TaskStore:
    return TaskStore(database)


counter = iter(range(1_000_000))


def new(key: str = "k1", body_hash: str = "h", pool: str = "cpu", bid: str | None = None) -> NewTask:
    return NewTask(
        kind="tool",
        tool_code="imgEnlarge",
        key_id=key,
        business_task_id=bid or f"b{next(counter)}",
        pool=pool,
        params={"x": 1},
        body_hash=body_hash,
    )


def test_status_codes_of_both_encodings() -> None:
    assert [sd_status(s) for s in TaskState] == [1, 3, 2, 4, 5]
    assert [tool_status(s) for s in TaskState] == [0, 0, 1, 2, 3]


def test_submit_is_idempotent_per_key(store: TaskStore) -> None:
    task, created = store.submit(new(bid="same"))
    again, created_again = store.submit(new(bid="same"))
    assert created and not created_again and again.id == task.id
    with pytest.raises(ImgOpenError) as conflict:
        store.existing_or_conflict("k1", "same", "other-hash")
    assert conflict.value.code == "409"
    other_key, made = store.submit(new(key="k2", bid="same"))
    assert made and other_key.id != task.id
    with pytest.raises(ImgOpenError) as by_submit:
        store.submit(new(bid="same", body_hash="other-hash"))
    assert by_submit.value.code == "409"


def test_a_resubmit_is_answered_even_at_the_key_s_limit(store: TaskStore) -> None:
    task, _ = store.submit(new(key="k-limit", bid="first"), max_active=1)
    again, created = store.submit(new(key="k-limit", bid="first"), max_active=1)
    assert not created and again.id == task.id and again.state == TaskState.QUEUED.value
    with pytest.raises(ImgOpenError) as too_many:
        store.submit(new(key="k-limit", bid="second"), max_active=1)
    assert too_many.value.code == "429"
    with pytest.raises(ImgOpenError) as conflict:  # another body is a conflict, not "too many"
        store.submit(new(key="k-limit", bid="first", body_hash="other-hash"), max_active=1)
    assert conflict.value.code == "409"


def test_claims_are_exclusive_under_concurrency(store: TaskStore) -> None:
    ids = {store.submit(new(pool="race"))[0].id for _ in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (task := store.claim_next(["race"], name, 60_000)) is not None:
            with lock:
                claimed.append(task.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)  # every task once, none twice


def test_expired_lease_is_retried_once_then_failed(store: TaskStore) -> None:
    task, _ = store.submit(new(pool="crash"))
    first = store.claim_next(["crash"], "dead-worker-1", 1)
    assert first is not None and first.id == task.id and first.attempts == 1
    time.sleep(0.01)
    assert [(r.task_id, r.requeued) for r in store.recover_expired(max_attempts=2)] == [(task.id, True)]
    requeued = store.get(task.id)
    assert requeued is not None and requeued.state == "queued" and requeued.lease_owner is None
    second = store.claim_next(["crash"], "dead-worker-2", 1)
    assert second is not None and second.attempts == 2
    time.sleep(0.01)
    assert [(r.task_id, r.requeued) for r in store.recover_expired(max_attempts=2)] == [(task.id, False)]
    failed = store.get(task.id)
    assert failed is not None and failed.state == "failed"
    assert failed.error_msg is not None and "stopped before it finished" in failed.error_msg
    # A late finish from a dead worker cannot overwrite the outcome.
    assert not store.finish(task.id, "dead-worker-2", TaskState.SUCCESS, result={})


def test_live_lease_is_not_recovered_and_renewal_reports_cancel(store: TaskStore) -> None:
    task, _ = store.submit(new(pool="live"))
    claimed = store.claim_next(["live"], "w", 60_000)
    assert claimed is not None
    assert all(r.task_id != task.id for r in store.recover_expired(max_attempts=2))
    assert store.renew_lease(task.id, "w", 60_000) == (True, False)
    assert store.cancel(claimed) == TaskState.RUNNING
    assert store.renew_lease(task.id, "w", 60_000) == (True, True)
    assert store.renew_lease(task.id, "someone-else", 60_000) == (False, True)
    assert store.finish(task.id, "w", TaskState.CANCELLED)
    ended = store.get(task.id)
    assert ended is not None and ended.state == "cancelled" and ended.finished_at is not None


def test_queue_position_follows_priority_and_order(store: TaskStore) -> None:
    a, _ = store.submit(new(pool="q"))
    b, _ = store.submit(new(pool="q"))
    assert store.queue_position(a) == 1 and store.queue_position(b) == 2
    store.cancel(a)
    refreshed = store.get(b.id)
    assert refreshed is not None and store.queue_position(refreshed) == 1


def test_running_here_knows_the_tasks_a_worker_of_this_process_took_at_insert(store: TaskStore) -> None:
    held = NewTask(
        kind="tool",
        tool_code="imgEnlarge",
        key_id="k-here",
        business_task_id="held",
        pool="cpu",
        params={"x": 1},
        body_hash="h",
        lease_owner="this-process:cpu-0",
        lease_ms=60_000,
    )
    task, _ = store.submit(held)
    queued, _ = store.submit(new(key="k-here", bid="queued"))
    here = store.running_here("k-here", "held")
    assert here is not None and here.id == task.id and here.state == TaskState.RUNNING.value
    assert store.running_here("k-here", "queued") is None  # no worker of ours holds it: ask the database
    assert store.running_here("k-other", "held") is None  # another key's
    assert store.finish(task.id, "this-process:cpu-0", TaskState.SUCCESS, result={"ok": 1})
    assert store.running_here("k-here", "held") is None  # ended: its final row is known instead
    ended = store.ended(task.id)
    assert ended is not None and ended.state == TaskState.SUCCESS.value and queued.id != task.id
    # Still known as ended once many later ends have pushed its final row out of memory.
    for _ in range(80):
        later, _ = store.submit(new(key="k-here"))
        assert store.finish(later.id, None, TaskState.CANCELLED, from_state=TaskState.QUEUED.value)
    assert store.ended(task.id) is None and store.running_here("k-here", "held") is None
