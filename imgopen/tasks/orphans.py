"""Files that no task owns: a process that died between storing a submit's inputs and inserting its
row, or while a tool ran before its insert (tasks/insertion.py), leaves inputs/<id>/ or
outputs/<id>/ behind with no task <id>. Such folders, once older than any submit can take, are
deleted.

Safe to run in every API process of a cluster: task rows are never deleted, so a folder whose
id has no row and whose files are old is nobody's (as long as the storage is this deployment's
alone: see the orphan_sweep setting); deleting what another process deleted first is not an
error."""

from __future__ import annotations

import logging
from typing import cast

from sqlalchemy import Table, select

from imgopen.clock import now_ms
from imgopen.db.engine import Database
from imgopen.db.tables import Task
from imgopen.storage.base import TASK_AREAS, Storage, is_task_id
from imgopen.tasks.periodic import Periodic

log = logging.getLogger(__name__)
T = cast(Table, Task.__table__)
BATCH = 500
# A submit stores its inputs milliseconds before its row is inserted, and a run started before
# its insert waits at most a lease for it: an hour (or two leases, if longer) leaves every submit
# under way alone.
GRACE_SECONDS = 3600.0


class OrphanSweeper:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        check_seconds: float,
        grace_seconds: float = GRACE_SECONDS,
        enabled: bool = True,
    ) -> None:
        self._db = db
        self._storage = storage
        self._grace_ms = int(grace_seconds * 1000)
        self.enabled = enabled
        self._thread = Periodic("imgopen-orphans", check_seconds, self._tick)

    def start(self) -> None:
        if self.enabled:
            self._thread.start()  # the first sweep at once: what a crash just left

    def stop(self) -> None:
        self._thread.stop()

    def _tick(self) -> None:
        self.sweep()

    def sweep(self) -> int:
        """Delete the folders of task ids that have no task, written longer ago than the grace
        time; how many."""
        deleted = 0
        for area in TASK_AREAS:
            batch: list[str] = []
            for name in self._storage.folders(area):
                if is_task_id(name):
                    batch.append(name)
                if len(batch) == BATCH:
                    deleted += self._sweep(area, batch)
                    batch = []
            deleted += self._sweep(area, batch)
        if deleted:
            log.info("deleted the files of %d task ids that have no task (left by a crash)", deleted)
        return deleted

    def _sweep(self, area: str, names: list[str]) -> int:
        if not names:
            return 0
        with self._db.reading() as connection:
            known = {str(row.id) for row in connection.execute(select(T.c.id).where(T.c.id.in_(names)))}
        cutoff = now_ms() - self._grace_ms
        deleted = 0
        for name in names:
            if name in known:
                continue
            folder = f"{area}/{name}"
            written = self._storage.written_ms(folder)
            if written is not None and written > cutoff:
                continue  # recent: a submit may be about to insert its row
            self._storage.delete_prefix(folder)
            deleted += 1
        return deleted
