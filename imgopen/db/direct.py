"""Core statements run on the driver's cursor directly, for the few a task's submit and end run.

SQLAlchemy's execution of a compiled statement (execution context, events, result set-up) costs
about a tenth of a millisecond on a 2 GHz core, six times an indexed statement on SQLite; a
cheap task's submit and end run ten such statements on the API's critical path. A DirectStatement
is compiled once per dialect by SQLAlchemy (same SQL, same bind and result type processing: JSON,
booleans) and then runs as the driver's own `cursor.execute`, in the transaction of the Core
connection it is given. Errors come out as SQLAlchemy's (IntegrityError...), as from `execute`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


class _Row(tuple[Any, ...]):
    """What rows of a DirectStatement offer besides a tuple: attributes by column, `_mapping`."""

    __slots__ = ()
    _fields: tuple[str, ...]

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    @property
    def _mapping(self) -> dict[str, Any]:
        return self._asdict()


@dataclass
class _Compiled:
    sql: str
    columns: Sequence[Any]  # SQLAlchemy's result columns (their types process what is read)
    # Per bind of the SQL, in order: its name as the SQL spells it, the parameter that gives its
    # value (None: the statement's own value, `fixed`), and its type's processing (JSON...).
    binds: Sequence[tuple[str, str | None, Any, Callable[[Any], Any] | None]]
    positional: bool
    row: type[_Row] | None
    # Made at the first run: a driver's result types (PostgreSQL's numerics) come with the cursor.
    results: Sequence[Callable[[Any], Any] | None] | None = None


@contextmanager
def driver_errors(dialect: Dialect, sql: str, arguments: Any) -> Iterator[None]:
    """The driver's errors raised as SQLAlchemy's (IntegrityError...), as `Connection.execute` does."""
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, arguments, exc, dialect.loaded_dbapi.Error) from exc


def _row_class(fields: Sequence[str]) -> type[_Row]:
    clashes = [name for name in fields if hasattr(tuple, name) or name.startswith("_")]
    if clashes:
        raise ValueError(f"result columns {clashes} cannot be row attributes")
    attributes: dict[str, Any] = {name: property(itemgetter(index)) for index, name in enumerate(fields)}
    return type("Row", (_Row,), {"__slots__": (), "_fields": tuple(fields), **attributes})


class DirectResult:
    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise ValueError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


class DirectStatement:
    """A Core statement without IN lists (write `a == x OR a == y`: both databases plan it as IN)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_key: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
        self._lock = threading.Lock()

    def _compiled(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        known = self._by_key.get((dialect.name, keys))
        if known is not None:
            return known
        # Compiled for the parameters' keys, as `Connection.execute` does: an INSERT takes the
        # columns it is given values for.
        compiled: Any = self.statement.compile(dialect=dialect, column_keys=list(keys))
        if any(bind.expanding for bind in compiled.binds.values()):
            # An IN list is rendered per call from its values: not something to compile once.
            raise ValueError(f"a statement with an IN list cannot run directly: {compiled.string}")
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        missing = [name for name in names if name not in keys and compiled.binds[name].required]
        if missing:
            raise ValueError(f"no value for the parameters {missing}")
        escaped = compiled.escaped_bind_names or {}
        processors = compiled._bind_processors
        binds = [
            (
                escaped.get(name, name),
                name if name in keys else None,
                None if name in keys else compiled.binds[name].effective_value,
                processors.get(name),
            )
            for name in names
        ]
        columns = compiled._result_columns
        made = _Compiled(
            sql=compiled.string,
            columns=columns,
            binds=binds,
            positional=compiled.positional,
            row=_row_class([column.keyname for column in columns]) if columns else None,
        )
        with self._lock:
            self._by_key[(dialect.name, keys)] = made
        return made

    def run(self, connection: Connection, params: Mapping[str, Any]) -> DirectResult:
        dialect = connection.dialect
        made = self._compiled(dialect, tuple(sorted(params)))
        values = [
            (spelled, params[key] if key is not None else fixed, process) for spelled, key, fixed, process in made.binds
        ]
        processed = [(spelled, value if process is None else process(value)) for spelled, value, process in values]
        arguments: Any = [value for _name, value in processed] if made.positional else dict(processed)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with driver_errors(dialect, made.sql, arguments):
                cursor.execute(made.sql, arguments)
                raw = cursor.fetchall() if made.row is not None else []
            rowcount = cursor.rowcount
            if made.row is not None and made.results is None and cursor.description is not None:
                made.results = [
                    column.type._cached_result_processor(dialect, described[1])
                    for column, described in zip(made.columns, cursor.description, strict=True)
                ]
        finally:
            cursor.close()
        if made.row is None or made.results is None:
            return DirectResult([], rowcount)
        make, results = made.row, made.results
        rows = [
            make(value if process is None else process(value) for process, value in zip(results, row, strict=True))
            for row in raw
        ]
        return DirectResult(rows, rowcount)
