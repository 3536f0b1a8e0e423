"""Retention: the files of tasks that ended longer ago than the configured age (outputs, stored
inputs, previews) are deleted from storage; the task rows stay, marked, and their queries say that
the files expired instead of giving dead URLs. The key's stored bytes go down by what was deleted.

Safe to run in every API process of a cluster: marking a task is a conditional update, so its
bytes are subtracted once; deleting a missing file is not an error."""

from __future__ import annotations

import logging
from typing import cast

from sqlalchemy import Table, select, update

from imgopen.accounts.quotas import add_stored_bytes
from imgopen.clock import now_ms
from imgopen.db.engine import Database
from imgopen.db.tables import Task
from imgopen.storage.base import TASK_AREAS, Storage
from imgopen.tasks.periodic import Periodic
from imgopen.tasks.store import ACTIVE_STATES

log = logging.getLogger(__name__)
T = cast(Table, Task.__table__)
BATCH = 200


class RetentionSweeper:
    def __init__(self, db: Database, storage: Storage, retention_days: float, check_seconds: float) -> None:
        self._db = db
        self._storage = storage
        self._age_ms = int(retention_days * 86_400_000)
        self._thread = Periodic("imgopen-retention", check_seconds, self._tick)

    @property
    def enabled(self) -> bool:
        return self._age_ms > 0

    def start(self) -> None:
        if self.enabled:
            self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    def _tick(self) -> None:
        self.sweep()

    def sweep(self) -> int:
        """Expire the files of every task that ended before the retention age; how many tasks."""
        expired = 0
        while self.enabled:
            batch = self._due()
            for task_id in batch:
                expired += self._expire(task_id)
            if len(batch) < BATCH:
                break
        if expired:
            log.info("retention: deleted the files of %d tasks", expired)
        return expired

    def _due(self) -> list[str]:
        before = now_ms() - self._age_ms
        with self._db.read() as session:
            rows = session.connection().execute(
                select(T.c.id)
                .where(T.c.files_expired_at.is_(None), T.c.finished_at < before, T.c.state.not_in(ACTIVE_STATES))
                .limit(BATCH)
            )
            return [str(row.id) for row in rows]

    def _expire(self, task_id: str) -> int:
        # Files first: a crash in between leaves the task to the next sweep, never a row that
        # says "expired" over files still kept.
        for area in TASK_AREAS:
            self._storage.delete_prefix(f"{area}/{task_id}")
        with self._db.transaction() as session:
            connection = session.connection()
            pending = T.c.files_expired_at.is_(None)
            row = connection.execute(
                select(T.c.key_id, T.c.stored_bytes).where(T.c.id == task_id, pending).with_for_update()
            ).first()
            if row is None:  # another process expired it meanwhile
                return 0
            connection.execute(update(T).where(T.c.id == task_id).values(files_expired_at=now_ms(), stored_bytes=0))
            add_stored_bytes(connection, row.key_id, -int(row.stored_bytes or 0))
            return 1
