"""A batch (school start): one decision by the manager, ordered by a faulty operator API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.onboarding import onboarding_batch
from models.onboarding import OrderStatus
from models.register import DirectoryEntry, Employee
from telefoni.core.settings import get_settings
from telefoni.core.vault import vault_from
from tests import factories
from tests.factories import Workplace, code_of
from tests.flows.onboarding_helpers import Background, answer, order_for, orders, wait_for_pause
from tests.integration.operator_stand_in import ALL_FAULTS, OperatorStandIn


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch) -> Iterator[OperatorStandIn]:
    api = OperatorStandIn(auto_deliver_after=1)  # delivered once asked about after the order
    api.start()
    monkeypatch.setenv("TELEFONI_OPERATOR_GATEWAY", "http")
    monkeypatch.setenv("TELEFONI_OPERATOR_API_URL", api.url)
    monkeypatch.setenv("TELEFONI_OPERATOR_DELIVERY_WAIT_SECONDS", "60")
    monkeypatch.setenv("TELEFONI_OPERATOR_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("TELEFONI_APPROVAL_POLL_SECONDS", "1")
    get_settings.cache_clear()
    try:
        yield api
    finally:
        api.stop()


def test_one_decision_approves_the_batch_and_the_api_delivers(
    flow_db: Engine, operator: OperatorStandIn
) -> None:
    with Session(flow_db) as session, session.begin():
        vault = vault_from(get_settings())
        wp: Workplace = factories.workplace(session, vault, staff=3)
        other = session.scalars(
            select(Employee).where(Employee.employee_number == wp.other_manager)
        ).one()
        stranger = factories.employee(
            session,
            vault,
            manager_id=other.id,
            unit_id=other.unit_id,
            cost_centre_id=other.cost_centre_id,
        ).employee_number
    requests = [order_for(wp, i, apps=[]) for i in range(3)]
    requests.append(order_for(wp, 0, employee_number=stranger, apps=[]))

    operator.configure(fault_rate=0.3, faults=ALL_FAULTS, seed=5)  # orders and status calls
    run = Background(onboarding_batch, requests, "Skolstart 2027 Sörbyskolan")
    run_id = wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)  # the three of one manager
    code = code_of(flow_db, wp.municipality_id, wp.manager)
    answer(run_id, decision="godkänn", decided_by=wp.manager, code=code)
    result = run.join()

    done = orders(flow_db)
    assert [o.status for o in done] == [OrderStatus.COMPLETED] * 3 + [OrderStatus.REFUSED]
    assert "annan chef" in done[3].findings[0]["message"]
    assert result["läge"] == {"completed": 3, "refused": 1}
    assert {o.decided_by for o in done[:3]} == {wp.manager}
    assert len(operator.orders) == 3  # each once, by its key, though 30 % of calls failed
    assert sum(operator.faults.values()) > 0
    assert {o.operator_key for o in done[:3]} == set(operator.orders)
    with Session(flow_db) as session:
        numbers = set(
            session.scalars(
                select(DirectoryEntry.phone_number).where(
                    DirectoryEntry.employee_id.in_([o.employee_id for o in done[:3]])
                )
            )
        )
    assert numbers == {o.number for o in done[:3]}
