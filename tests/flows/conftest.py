"""Flow tests run against one real Prefect server (the test harness) for the whole session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from telefoni.core import migrate
from telefoni.core.settings import get_settings
from telefoni.core.vault import vault_from
from tests import factories
from tests.conftest import ENGINES
from tests.factories import Workplace
from tests.integration.operator_stand_in import OperatorStandIn


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(params=ENGINES)
def flow_db(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
) -> Iterator[Engine]:
    """A fresh, migrated register that the flows under test use, as a deployment would:
    through the TELEFONI_* environment. Mail goes to a folder of .eml files in tmp_path."""
    with make_empty_database(request.param) as engine:
        migrate.upgrade(engine)
        monkeypatch.setenv("TELEFONI_ENVIRONMENT", "test")
        monkeypatch.setenv("TELEFONI_APPROVAL_POLL_SECONDS", "1")  # a waiting run looks each second
        monkeypatch.setenv("TELEFONI_DATA_DIR", str(tmp_path))
        monkeypatch.setenv(
            "TELEFONI_DATABASE_URL", engine.url.render_as_string(hide_password=False)
        )
        get_settings.cache_clear()
        try:
            yield engine
        finally:
            get_settings.cache_clear()


@pytest.fixture
def wp(flow_db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workplace]:
    """`factories.workplace` in the flows' register; waiting runs look for answers every
    second."""
    monkeypatch.setenv("TELEFONI_APPROVAL_POLL_SECONDS", "1")
    get_settings.cache_clear()
    with Session(flow_db) as session, session.begin():
        place = factories.workplace(session, vault_from(get_settings()))
    yield place


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch) -> Iterator[OperatorStandIn]:
    """The operator's API on loopback; terminations confirmed at once unless told."""
    api = OperatorStandIn()
    api.start()
    monkeypatch.setenv("TELEFONI_OPERATOR_GATEWAY", "http")
    monkeypatch.setenv("TELEFONI_OPERATOR_API_URL", api.url)
    monkeypatch.setenv("TELEFONI_OPERATOR_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("TELEFONI_APPROVAL_POLL_SECONDS", "1")
    get_settings.cache_clear()
    try:
        yield api
    finally:
        api.stop()
