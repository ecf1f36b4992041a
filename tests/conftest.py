"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from TELEFONI_TEST_POSTGRES_URL (see tests.scratch; default: the local
server on 127.0.0.1:5432, database `test`). Each test session gets databases of its own,
created and dropped here.
Outside CI an unreachable PostgreSQL skips its half of the suite; with CI=true it fails.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.personnummer import PersonnummerVault
from telefoni.core import migrate
from telefoni.core.db import make_engine
from tests.scratch import fresh_database

# Prefect keeps transaction records and results under PREFECT_HOME: never share the user's.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="telefoni-tests-prefect-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ENGINES = ["sqlite", "postgresql"]


def _postgres_unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not reachable ({reason})")


@contextmanager
def empty_database(kind: str, tmp_dir: Path) -> Iterator[Engine]:
    """An engine on a brand-new, empty database of the given kind (dropped afterwards)."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_database(kind, tmp_dir))
        except OperationalError as exc:
            _postgres_unavailable(type(exc.orig).__name__)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        yield engine


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
