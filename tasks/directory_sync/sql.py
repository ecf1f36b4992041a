"""Big reads straight from the driver, and ids in chunks: what the sync's SQL is built on."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import ClauseElement, ColumnElement, Engine, true
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

# Ids per IN (...) list: well below every engine's limit on bound parameters.
_IDS_PER_QUERY = 5000


# Ids written into the SQL (`_driver_rows`) per IN (...) list: no bound parameters to count,
# and each list can cost the database a scan of a table, so few and long.
_IDS_PER_LITERAL_LIST = 100_000


def _chunks(values: Sequence[Any], size: int = _IDS_PER_QUERY) -> Iterator[Sequence[Any]]:
    for lo in range(0, len(values), size):
        yield values[lo : lo + size]


def _driver_rows(source: Session | Engine, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    """A big read straight from the driver: plain tuples, no Row objects (a third of the time
    on 100,000 rows). In the session's transaction, or on a connection of the engine's own.
    Only for statements whose literals come from this code (they are rendered into the SQL).
    """
    if isinstance(source, Session):
        connection = source.connection()
        return _fetch(connection.connection.driver_connection, connection.dialect, stmt)
    raw = source.raw_connection()
    try:
        return _fetch(raw.driver_connection, source.dialect, stmt)
    finally:
        raw.close()  # back to the pool, which ends its read transaction


def _fetch(dbapi: Any, dialect: Dialect, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    finally:
        cursor.close()
    return rows


def _id_filters(id_column: Any, ids: Collection[int] | None) -> Iterator[ColumnElement[bool]]:
    """WHERE clauses that together choose ``ids`` (everyone if None), a chunk each."""
    if ids is None:
        yield true()
        return
    for chunk in _chunks(sorted(int(i) for i in ids), _IDS_PER_LITERAL_LIST):
        yield id_column.in_(chunk)


def _in_memory(engine: Engine) -> bool:
    """An SQLite database that lives in one connection (another would not see it)."""
    database = engine.url.database or ""
    return engine.dialect.name == "sqlite" and (
        database in ("", ":memory:") or "mode=memory" in str(engine.url)
    )
