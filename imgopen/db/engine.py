"""The database: engine set-up, sessions for reading and writing, and schema migration.

SQLite allows one writer at a time. Left to itself, a second writer waits in SQLite's busy
handler, which sleeps in growing steps (1, 2, 5, 10... ms) and, in WAL mode, a transaction that
read first and writes second can fail outright. So writes take the write lock up front (BEGIN
IMMEDIATE) and, inside one process, queue on a Python lock instead of sleeping; reads use
plain deferred transactions and never wait for writers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from imgopen.config import Settings
from imgopen.db.direct import driver_errors

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_WRITE_OPTION = "imgopen_write"
# Alembic's runner is not re-entrant inside one process; servers and tests may migrate at once.
_migrate_lock = threading.Lock()


def head_revision() -> str:
    """The newest migration's revision id. Each file of versions/ is named after its revision
    (0007_a1111_options.py holds revision "0007"; tests/test_migrations.py holds that)."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and its parent folder created."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["pool_size"] = 16
            kwargs["max_overflow"] = 16
            # The connection used last goes out first: SQLite drops a connection's page cache when
            # another connection wrote since its last transaction, and one connection reused keeps
            # it (paired A/B through the API: -0.2 to -0.5 ms per task).
            kwargs["pool_use_lifo"] = True
        else:
            # In memory ("sqlite://", tests): each new connection would open a new, empty database.
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy's transactions are driven by _sqlite_begin; the driver must not BEGIN by itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Reads run without an explicit transaction (each statement sees a consistent snapshot
    # of its own); this saves a BEGIN and a ROLLBACK per read.
    if connection.get_execution_options().get(_WRITE_OPTION, False):
        # On the driver's connection: through SQLAlchemy's execution this cost a tenth of a
        # millisecond more per write transaction (see db/direct.py).
        with driver_errors(connection.dialect, "BEGIN IMMEDIATE", ()):
            connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE changed (Session.execute is typed as returning a plain Result)."""
    return int(result.rowcount)


class Database:
    """One database: `read()` sessions for queries, `transaction()` for anything that writes."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._writes = sessionmaker(self._write_engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None

    def read(self) -> Session:
        """A session for reading (`with db.read() as session:`)."""
        return self._reads()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block (rolled back on error)."""
        with self._write_lock or nullcontext(), self._writes.begin() as session:
            yield session

    # Core connections for the hot paths (the task store): an ORM session around a statement costs
    # a fifth of a millisecond more per call, a good part of a cheap task's overhead.
    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reading (`with db.reading() as connection:`)."""
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection whose work is committed at the end of the block (rolled back on error)."""
        with self._write_lock or nullcontext(), self._write_engine.begin() as connection:
            yield connection

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        if self.at_head():
            return  # the usual start: alembic (a fifth of a second to import and read) is not needed
        # Imported here: alembic costs a tenth of a second at start, and only migrating needs it.
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = self.engine
        with _migrate_lock:
            command.upgrade(cfg, "head")

    def at_head(self) -> bool:
        """Whether the schema is at the newest revision already."""
        try:
            with self.engine.connect() as connection:
                current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except SQLAlchemyError:  # no such table yet: a new database
            return False
        return current == [head_revision()]

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings) -> Database:
    """The configured database, its schema migrated to the newest revision."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.migrate()
    return db
