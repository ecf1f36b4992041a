"""Fixtures for tests that talk to real services: an SMTP server, a database of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import Engine

from telefoni.core import migrate
from tests.conftest import ENGINES
from tests.integration.operator_stand_in import OperatorStandIn
from tests.integration.smtp_server import SmtpServer


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 (a port the kernel picks), closed after the test."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(params=ENGINES)
def relay_db(
    request: pytest.FixtureRequest,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
) -> Iterator[Engine]:
    """A fresh migrated database per test: code that opens its own transactions needs one."""
    with make_empty_database(request.param) as engine:
        migrate.upgrade(engine)
        yield engine


@pytest.fixture
def operator_api() -> Iterator[OperatorStandIn]:
    """The operator's order API on 127.0.0.1 (free port): no faults, no token until set.

    Configure per test: `operator_api.configure(fault_rate=0.3, faults=[...], seed=1)`,
    `operator_api.fail_next(Fault.HTTP_500)`, `operator_api.refuse_next(422, "...")`,
    `operator_api.token = "..."`, `operator_api.auto_deliver_after = 0`.
    """
    api = OperatorStandIn()
    api.start()
    try:
        yield api
    finally:
        api.stop()
