"""Throw-away databases for tests and benchmarks: made empty, dropped afterwards."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

POSTGRES_URL = os.environ.get(
    "TELEFONI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_database(
    admin_url: str = POSTGRES_URL, prefix: str = "telefoni_test", template: str | None = None
) -> Iterator[str]:
    """The URL of a new database on the server of `admin_url`, dropped afterwards: empty, or a
    copy of `template` (a database nobody is connected to).

    Raises sqlalchemy's OperationalError when the server cannot be reached.
    """
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    # FILE_COPY: copied as files between two checkpoints, so that no checkpoint of the copy's
    # WAL runs on behind (the default strategy writes it all through the WAL).
    copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    created = False
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        created = True
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if created:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_database(kind: str, folder: Path, prefix: str = "telefoni_test") -> Iterator[str]:
    """The URL of a new, empty SQLite file in `folder` or PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{prefix}_{uuid.uuid4().hex[:12]}.db'}"
        return
    with postgres_database(prefix=prefix) as url:
        yield url


@contextmanager
def database_copy(url: str, folder: Path) -> Iterator[str]:
    """The URL of a copy of the database at `url` (an SQLite file, or a PostgreSQL database
    nobody is connected to), removed afterwards."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        source = Path(str(parsed.database))
        copy = folder / f"{source.stem}_copy_{uuid.uuid4().hex[:12]}.db"
        for suffix in ("", "-wal"):
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{copy}{suffix}")
        try:
            yield f"sqlite:///{copy}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
        return
    with postgres_database(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        prefix=f"{parsed.database}_copy",
        template=parsed.database,
    ) as copy_url:
        yield copy_url
