"""A wait of days survives a restart of whatever serves the flows.

The onboarding-order deployment is served, as `telefoni up` serves it, by a process of its own.
The run suspends for the manager's decision; the serving process is killed and a new one
started; the manager approves; the run comes back from the deployment and finishes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models.onboarding import OrderStatus
from telefoni.core.settings import get_settings
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
from tests.flows.serving import Served

DEPLOYMENT = "onboarding-order/onboarding-order"


@pytest.fixture
def wp(flow_db: Engine) -> Iterator[Workplace]:
    with Session(flow_db) as session, session.begin():
        place = factories.workplace(session, vault_from(get_settings()))
    yield place


def test_served_run_waits_through_a_restart_and_completes(flow_db: Engine, wp: Workplace) -> None:
    server = Served(["onboarding-order"])
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

        server.kill(forget=False)  # nothing runs the flow now; the decision waits in the server
        server = Served(["onboarding-order"])

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
