"""A wait of days survives a restart of whatever serves the flows.

The onboarding-order deployment is served, as `telefoni up` serves it, by a process of its own.
The run suspends for the manager's decision; the serving process is killed and a new one
started; the manager approves; the run comes back from the deployment and finishes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models.onboarding import OrderStatus
from telefoni.core.settings import PROJECT_ROOT, get_settings
from telefoni.core.vault import vault_from
from tests import factories
from tests.factories import Workplace, code_of
from tests.flows.onboarding_helpers import (
    answer,
    delivery,
    order_for,
    orders,
    read_run,
    wait_for_pause,
    wait_for_state,
)

DEPLOYMENT = "onboarding-order/onboarding-order"
SERVE = (
    "from prefect import serve\n"
    "from telefoni.up import load_deployments\n"
    "serve(*[d for d in load_deployments() if d.name == 'onboarding-order'])\n"
)


@pytest.fixture
def wp(flow_db: Engine) -> Iterator[Workplace]:
    with Session(flow_db) as session, session.begin():
        place = factories.workplace(session, vault_from(get_settings()))
    yield place


class Server:
    """`serve` of the onboarding-order deployment, in a process of its own."""

    def __init__(self) -> None:
        env = {
            **os.environ,
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        self.started = datetime.now(UTC)
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its flow-run children go down with it
        )

    def wait_until_served(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, "serve ended"
                try:  # as this process serves it (a deployment served before may be there)
                    served = client.read_deployment_by_name(DEPLOYMENT)
                    if served.updated and served.updated >= self.started:
                        return
                except ObjectNotFound:
                    pass
                time.sleep(0.5)
        raise AssertionError("the deployment was never served")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


def test_served_run_waits_through_a_restart_and_completes(flow_db: Engine, wp: Workplace) -> None:
    server = Server()
    try:
        server.wait_until_served()
        started = run_deployment(
            DEPLOYMENT,
            parameters={"order": order_for(wp).model_dump(mode="json")},
            timeout=0,
        )
        assert isinstance(started, FlowRun)
        run_id = str(started.id)
        wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL, timeout=180)
        assert read_run(run_id).state.name == "Suspended"  # type: ignore[union-attr]

        server.kill()  # nothing runs the flow now; the decision waits in the server
        server = Server()

        code = code_of(flow_db, wp.municipality_id, wp.manager)
        answer(run_id, decision="godkänn", decided_by=wp.manager, code=code, approved_apps=[])
        wait_for_pause(flow_db, OrderStatus.ORDERED, timeout=180)
        answer(run_id, **delivery(7))
        wait_for_state(run_id, "Completed", timeout=180)
    finally:
        server.kill()

    (order,) = orders(flow_db)
    assert order.status is OrderStatus.COMPLETED
    assert order.flow_run_id == run_id
    assert order.decided_by == wp.manager
    assert order.number == delivery(7)["number"]
