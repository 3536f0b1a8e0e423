"""The workers table: each worker process says, by a heartbeat, which pools it serves, on which
device, what it has loaded and what it runs. Read by the dispatcher (affinity), `imgopen workers`,
/readyz and /metrics; unloadModels reaches the workers through it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, select, update

from imgopen.clock import now_ms
from imgopen.db.engine import Database, rowcount
from imgopen.db.tables import Worker

W = cast(Table, Worker.__table__)


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    host: str
    pid: int
    pools: list[str]
    device: str
    checkpoints: list[str]
    loras: list[str]
    current_tasks: list[str]
    started_at: int
    heartbeat_at: int

    def alive(self, now: int, stale_ms: int) -> bool:
        return now - self.heartbeat_at <= stale_ms

    def as_json(self, now: int, stale_ms: int) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "pools": self.pools,
            "device": self.device,
            "checkpoints": self.checkpoints,
            "loras": self.loras,
            "currentTasks": self.current_tasks,
            "startedAt": self.started_at,
            "heartbeatAt": self.heartbeat_at,
            "alive": self.alive(now, stale_ms),
        }


def _info(row: Any) -> WorkerInfo:
    loaded = row.loaded or {}
    return WorkerInfo(
        name=row.name,
        host=row.host,
        pid=row.pid,
        pools=list(row.pools or []),
        device=row.device,
        checkpoints=list(loaded.get("checkpoints", [])),
        loras=list(loaded.get("loras", [])),
        current_tasks=list(row.current_tasks or []),
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
    )


class WorkerDirectory:
    def __init__(self, db: Database, heartbeat_seconds: float) -> None:
        self._db = db
        self.heartbeat_seconds = heartbeat_seconds
        # A worker that missed three heartbeats is taken for gone.
        self.stale_ms = int(heartbeat_seconds * 3000)

    def beat(
        self,
        name: str,
        host: str,
        pid: int,
        pools: Sequence[str],
        device: str,
        loaded: dict[str, list[str]],
        current_tasks: Sequence[str],
        started_at: int,
    ) -> bool:
        """Record the worker's state now; True when an unload of its models was requested (the
        request is consumed by this call)."""
        now = now_ms()
        values = {
            "host": host,
            "pid": pid,
            "pools": list(pools),
            "device": device,
            "loaded": loaded,
            "current_tasks": list(current_tasks),
            "started_at": started_at,
            "heartbeat_at": now,
        }
        with self._db.transaction() as session:
            connection = session.connection()
            row = connection.execute(select(W.c.unload_requested_at).where(W.c.name == name).with_for_update()).first()
            if row is None:
                connection.execute(W.insert().values(name=name, unload_requested_at=None, **values))
                return False
            connection.execute(update(W).where(W.c.name == name).values(unload_requested_at=None, **values))
            return row.unload_requested_at is not None

    def leave(self, name: str) -> None:
        """A worker that stops cleanly removes itself."""
        with self._db.transaction() as session:
            session.connection().execute(delete(W).where(W.c.name == name))

    def all(self) -> list[WorkerInfo]:
        with self._db.read() as session:
            rows = session.connection().execute(select(W).order_by(W.c.name)).all()
        return [_info(row) for row in rows]

    def alive(self) -> list[WorkerInfo]:
        now = now_ms()
        return [info for info in self.all() if info.alive(now, self.stale_ms)]

    def alive_per_pool(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for info in self.alive():
            for pool in info.pools:
                counts[pool] = counts.get(pool, 0) + 1
        return counts

    def request_unload(self) -> int:
        """Ask every live worker to unload its cached models at its next heartbeat; how many."""
        with self._db.transaction() as session:
            done = session.connection().execute(
                update(W).where(W.c.heartbeat_at >= now_ms() - self.stale_ms).values(unload_requested_at=now_ms())
            )
            return rowcount(done)

    def forget_stale(self, older_than_ms: int) -> int:
        """Drop rows of workers silent for longer than `older_than_ms` (killed, not stopped)."""
        with self._db.transaction() as session:
            done = session.connection().execute(delete(W).where(W.c.heartbeat_at < now_ms() - older_than_ms))
            return rowcount(done)
