"""Throw-away databases for tests and benchmarks: made empty, dropped afterwards."""

from __future__ import annotations

import os
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
    admin_url: str = POSTGRES_URL, prefix: str = "telefoni_test"
) -> Iterator[str]:
    """The URL of a new, empty database on the server of `admin_url`, dropped afterwards.

    Raises sqlalchemy's OperationalError when the server cannot be reached.
    """
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    created = False
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
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
