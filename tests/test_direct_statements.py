"""DirectStatement (db/direct.py) against SQLAlchemy's own execution, on SQLite and PostgreSQL: the
same rows (JSON, booleans, floats, NULLs), the same counts and the same errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from imgopen.db.direct import DirectStatement
from imgopen.db.engine import Database, open_database
from imgopen.tasks.store import T
from tests.conftest import SettingsFactory


@pytest.fixture(scope="module")
def database(make_settings: SettingsFactory) -> Iterator[Database]:
    db = open_database(make_settings())
    yield db
    db.dispose()


def task_values(task_id: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": task_id,
        "kind": "tool",
        "tool_code": "imgEnlarge",
        "key_id": "k-direct",
        "business_task_id": f"b-{task_id}",
        "pool": "cpu",
        "priority": 0,
        "params": {"scale": 2.5, "nested": [1, None, "x"], "flag": True},
        "body_hash": "h",
        "callback_url": None,
        "state": "running",
        "progress": 0.25,
        "progress_info": None,
        "result": None,
        "error_code": None,
        "error_msg": None,
        "attempts": 1,
        "cancel_requested": True,
        "skip_requested": 2,
        "created_at": 1_700_000_000_000,
        "updated_at": 1_700_000_000_000,
        "started_at": None,
        "finished_at": None,
        "lease_owner": "w1",
        "lease_expires_at": None,
        "affinity": None,
        "images": 1,
        "stored_bytes": 0,
        "files_expired_at": None,
    }
    return {**values, **changes}


INSERT = DirectStatement(insert(T).returning(T.c.seq, T.c.id))
BY_ID = DirectStatement(select(T).where(T.c.id == bindparam("id")))
PROGRESS = DirectStatement(
    update(T)
    .where(T.c.id == bindparam("b_id"), T.c.state == "running")
    .values(progress=bindparam("b_progress"), progress_info=bindparam("b_info"))
    .returning(T.c.progress, T.c.progress_info, T.c.cancel_requested)
)


def test_rows_read_and_written_directly_equal_sqlalchemy_s(database: Database) -> None:
    with database.writing() as connection:
        made = INSERT.run(connection, task_values("d1")).one()
        assert made.id == "d1" and isinstance(made.seq, int)
    with database.reading() as connection:
        direct = BY_ID.run(connection, {"id": "d1"}).first()
        through_sqlalchemy = connection.execute(BY_ID.statement, {"id": "d1"}).first()
    assert through_sqlalchemy is not None and direct is not None
    assert direct._mapping == dict(through_sqlalchemy._mapping)
    assert direct.params == {"scale": 2.5, "nested": [1, None, "x"], "flag": True}
    assert direct.cancel_requested is True and direct.progress == 0.25 and direct.started_at is None
    with database.reading() as connection:
        assert BY_ID.run(connection, {"id": "no-such-task"}).first() is None


def test_updates_return_their_rows_and_count_them(database: Database) -> None:
    with database.writing() as connection:
        INSERT.run(connection, task_values("d2"))
    with database.writing() as connection:
        done = PROGRESS.run(connection, {"b_id": "d2", "b_progress": 0.5, "b_info": {"step": 3}})
        assert done.rowcount == 1
        assert tuple(done.one()) == (0.5, {"step": 3}, True)
        missed = PROGRESS.run(connection, {"b_id": "no-such-task", "b_progress": 0.5, "b_info": None})
        assert missed.rowcount == 0 and missed.first() is None
    with database.reading() as connection:  # committed with the transaction it ran in
        assert BY_ID.run(connection, {"id": "d2"}).one().progress_info == {"step": 3}


def test_a_failed_transaction_rolls_back_and_errors_are_sqlalchemy_s(database: Database) -> None:
    with pytest.raises(IntegrityError), database.writing() as connection:
        INSERT.run(connection, task_values("d3"))
        INSERT.run(connection, task_values("d3"))  # the same id: unique
    with database.reading() as connection:
        assert BY_ID.run(connection, {"id": "d3"}).first() is None


def test_an_in_list_or_a_missing_parameter_is_refused(database: Database) -> None:
    listed = DirectStatement(select(T.c.id).where(T.c.state.in_(["queued", "running"])))
    with database.reading() as connection:
        with pytest.raises(ValueError, match="IN list"):
            listed.run(connection, {})
        with pytest.raises(ValueError, match="no value for the parameters \\['id'\\]"):
            BY_ID.run(connection, {})
