"""`telefoni db upgrade` from empty gives exactly the models' schema, on both engines."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import Engine, inspect

from telefoni import migrate
from tests.conftest import ENGINES


def telefoni(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELEFONI_DATABASE_URL": database_url, "TELEFONI_ENVIRONMENT": "test"}
    return subprocess.run(
        [sys.executable, "-m", "telefoni.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("kind", ENGINES)
def test_upgrade_from_empty_has_no_drift(
    kind: str, make_empty_database: Callable[[str], AbstractContextManager[Engine]]
) -> None:
    with make_empty_database(kind) as engine:
        url = engine.url.render_as_string(hide_password=False)
        assert inspect(engine).get_table_names() == []

        result = telefoni("db", "upgrade", database_url=url)
        assert result.returncode == 0, result.stderr
        assert "Schemat är uppdaterat" in result.stdout

        tables = set(inspect(engine).get_table_names())
        assert {"employee", "subscription", "device", "directory_entry"} <= tables
        assert migrate.drift(engine) == []
        check = telefoni("db", "check", database_url=url)
        assert check.returncode == 0, check.stdout + check.stderr

        again = telefoni("db", "upgrade", database_url=url)  # idempotent
        assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("kind", ENGINES)
def test_drift_is_detected(
    kind: str, make_empty_database: Callable[[str], AbstractContextManager[Engine]]
) -> None:
    """The drift check itself can fail: a schema missing a table is reported."""
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE accessory")
        differences = migrate.drift(engine)
        assert any(d[0] == "add_table" and d[1].name == "accessory" for d in differences)
