"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from TELEFONI_TEST_POSTGRES_URL (default: the local server on 127.0.0.1:5432,
database `test`). Each test session gets a database of its own, created and dropped here.
Outside CI an unreachable PostgreSQL skips its half of the suite; with CI=true it fails.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.personnummer import PersonnummerVault
from telefoni import migrate
from telefoni.db import make_engine

# Prefect keeps transaction records and results under PREFECT_HOME: never share the user's.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="telefoni-tests-prefect-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

POSTGRES_URL = os.environ.get(
    "TELEFONI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ENGINES = ["sqlite", "postgresql"]


def _postgres_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not reachable ({reason})")


@contextmanager
def _fresh_postgres_database() -> Iterator[str]:
    """Create an empty database on the PostgreSQL server and drop it afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"telefoni_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        _postgres_unavailable(type(exc.orig).__name__)
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def empty_database(kind: str, tmp_dir: Path) -> Iterator[Engine]:
    """An engine on a brand-new, empty database of the given kind."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_dir / f'{uuid.uuid4().hex}.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with _fresh_postgres_database() as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def make_empty_database(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], AbstractContextManager[Engine]]:
    """Open a new empty database: `with make_empty_database("postgresql") as engine: ...`."""
    tmp_dir = tmp_path_factory.mktemp("databases")
    return lambda kind: empty_database(kind, tmp_dir)


@pytest.fixture(scope="session", params=ENGINES)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database per engine, shared by the session's tests."""
    with empty_database(request.param, tmp_path_factory.mktemp("db")) as eng:
        migrate.upgrade(eng)
        yield eng


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture(scope="session")
def vault() -> PersonnummerVault:
    return PersonnummerVault(
        encryption_key=secrets.token_bytes(32), lookup_key=secrets.token_bytes(32)
    )
