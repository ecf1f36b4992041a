"""One run at a time, whoever starts it: a lock that dies with the process that holds it.

PostgreSQL: a session-level advisory lock on a connection of its own (released when the
connection closes, also when the process is killed). SQLite: an exclusive `flock` on a file
beside the database (released by the kernel when the process ends). Prefect's concurrency
limits cover runs it starts; this covers the CLI and a second server too.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive_run(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True while this process holds `name`; False at once if someone else does."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}))
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                    conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True  # a private in-memory database has no other users
        return
    path = Path(f"{database}.{name}.lock")
    with path.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
