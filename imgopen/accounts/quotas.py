"""Per-key quotas (API.md: "403 ... over its quota"): tasks and images per UTC day, and bytes in
storage. Counted in the database, inside the submit's transaction, so that every API process of a
cluster shares one count and two concurrent submits cannot both take the last one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from imgopen.clock import now_ms
from imgopen.db.direct import DirectStatement
from imgopen.db.engine import Database, rowcount
from imgopen.db.tables import ApiKey, KeyUsage
from imgopen.errors import ImgOpenError

K = cast(Table, ApiKey.__table__)
U = cast(Table, KeyUsage.__table__)
UNLIMITED = 2**31 - 1  # the counters are 32-bit integer columns
_QUOTA_COLUMNS = (K.c.quota_tasks_per_day, K.c.quota_images_per_day, K.c.quota_storage_bytes, K.c.stored_bytes)


@dataclass(frozen=True)
class Quota:
    tasks_per_day: int | None = None
    images_per_day: int | None = None
    storage_bytes: int | None = None


@dataclass(frozen=True)
class Usage:
    quota: Quota
    tasks_today: int
    images_today: int
    stored_bytes: int


def utc_day(at_ms: int) -> str:
    return dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).strftime("%Y-%m-%d")


def next_reset(at_ms: int) -> str:
    """When the per-day counters start again: the next UTC midnight, ISO 8601."""
    day = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).date() + dt.timedelta(days=1)
    return f"{day.isoformat()}T00:00:00Z"


def _gb(value: int) -> str:
    return f"{value / 2**30:.3g} GB"


# DirectStatement: run in every submit's transaction (see db/direct.py).
_KEY_QUOTA = DirectStatement(select(*_QUOTA_COLUMNS).where(K.c.id == bindparam("b_key")))
# (UPDATE statements may not name a bound parameter like a column: hence the b_ prefix.)
_COUNT = DirectStatement(
    update(U)
    .where(
        U.c.key_id == bindparam("b_key"),
        U.c.day == bindparam("b_day"),
        U.c.tasks + 1 <= bindparam("b_task_limit"),
        U.c.images + bindparam("b_images") <= bindparam("b_image_limit"),
    )
    .values(tasks=U.c.tasks + 1, images=U.c.images + bindparam("b_images"))
)
_USED = select(U.c.tasks, U.c.images).where(U.c.key_id == bindparam("b_key"), U.c.day == bindparam("b_day"))
_NEW_DAY = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(U)
    .values(key_id=bindparam("b_key"), day=bindparam("b_day"), tasks=0, images=0)
    .on_conflict_do_nothing(index_elements=["key_id", "day"])
    for dialect in (postgresql, sqlite)
}
_ADD_STORED = DirectStatement(
    update(K).where(K.c.id == bindparam("b_key")).values(stored_bytes=K.c.stored_bytes + bindparam("b_delta"))
)


def charge(connection: Connection, key_id: str, images: int, stored_bytes: int) -> None:
    """Count one task of `images` images and `stored_bytes` of inputs for the key today, or "403"
    naming the quota it would exceed, its limit and when it resets. Run inside the transaction
    that inserts the task: refused, nothing is counted."""
    key = _KEY_QUOTA.run(connection, {"b_key": key_id}).first()
    if key is None:
        return  # no such key row (internal callers): nothing to count against
    now = now_ms()
    limit = key.quota_storage_bytes
    # Full (outputs are counted after the fact, so a key may end a little over), or these inputs
    # alone would not fit.
    if limit is not None and (key.stored_bytes >= limit or key.stored_bytes + stored_bytes > limit):
        raise ImgOpenError(
            "403",
            f"quota exceeded: storage, {_gb(key.stored_bytes)} of {_gb(key.quota_storage_bytes)} used; it frees "
            "as this key's files expire (retention) or when the operator raises the quota",
        )
    params = {
        "b_key": key_id,
        "b_day": utc_day(now),
        "b_images": images,
        "b_task_limit": key.quota_tasks_per_day if key.quota_tasks_per_day is not None else UNLIMITED,
        "b_image_limit": key.quota_images_per_day if key.quota_images_per_day is not None else UNLIMITED,
    }
    # The day's row exists for all but the key's first task of the day: count first, make it if not.
    if _COUNT.run(connection, params).rowcount == 0:
        connection.execute(_NEW_DAY[connection.dialect.name], params)
        if _COUNT.run(connection, params).rowcount == 0:
            used = connection.execute(_USED, params).one()
            if used.tasks + 1 > params["b_task_limit"]:
                what = f"tasks per day, {used.tasks} of {params['b_task_limit']} used"
            else:
                what = (
                    f"images per day, {used.images} of {params['b_image_limit']} used and this task asks for {images}"
                )
            raise ImgOpenError("403", f"quota exceeded: {what}; resets at {next_reset(now)}")
    add_stored_bytes(connection, key_id, stored_bytes)


def add_stored_bytes(connection: Connection, key_id: str, delta: int) -> None:
    if delta:
        _ADD_STORED.run(connection, {"b_key": key_id, "b_delta": delta})


class Quotas:
    """Setting and reading quotas (the CLI, /metrics)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set(self, key_id: str, quota: Quota) -> bool:
        """Replace the key's quotas; False when there is no such key."""
        with self._db.transaction() as session:
            done = session.connection().execute(
                update(K)
                .where(K.c.id == key_id)
                .values(
                    quota_tasks_per_day=quota.tasks_per_day,
                    quota_images_per_day=quota.images_per_day,
                    quota_storage_bytes=quota.storage_bytes,
                )
            )
            return rowcount(done) == 1

    def stored_bytes(self) -> dict[str, int]:
        """Key -> bytes it keeps in storage now."""
        with self._db.read() as session:
            rows = session.connection().execute(select(K.c.id, K.c.stored_bytes)).all()
        return {row.id: int(row.stored_bytes or 0) for row in rows}

    def usage(self) -> dict[str, Usage]:
        """Every key's quotas and what it used today (UTC) and stores now."""
        day = utc_day(now_ms())
        with self._db.read() as session:
            connection = session.connection()
            keys = connection.execute(select(K.c.id, *_QUOTA_COLUMNS)).all()
            today = {row.key_id: row for row in connection.execute(select(U).where(U.c.day == day)).all()}
        out: dict[str, Usage] = {}
        for row in keys:
            used = today.get(row.id)
            out[row.id] = Usage(
                Quota(row.quota_tasks_per_day, row.quota_images_per_day, row.quota_storage_bytes),
                used.tasks if used else 0,
                used.images if used else 0,
                int(row.stored_bytes or 0),
            )
        return out
