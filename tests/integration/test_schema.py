"""`telefoni db upgrade` from empty gives exactly the models' schema, on both engines."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import Engine, inspect

from telefoni.core import migrate
from tests.cli import telefoni
from tests.conftest import ENGINES


@pytest.mark.parametrize("kind", ENGINES)
def test_upgrade_from_empty_has_no_drift(
    kind: str, make_empty_database: Callable[[str], AbstractContextManager[Engine]]
) -> None:
    with make_empty_database(kind) as engine:
        assert inspect(engine).get_table_names() == []

        result = telefoni("db", "upgrade", engine=engine)
        assert result.returncode == 0, result.stderr
        assert "Schemat är uppdaterat" in result.stdout

        tables = set(inspect(engine).get_table_names())
        assert {"employee", "subscription", "device", "directory_entry"} <= tables
        assert migrate.drift(engine) == []
        check = telefoni("db", "check", engine=engine)
        assert check.returncode == 0, check.stdout + check.stderr

        again = telefoni("db", "upgrade", engine=engine)  # idempotent
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
