"""Onboarding runs of two municipalities on one installation, under a real Prefect server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.onboarding import onboarding_order, onboarding_watch
from models.onboarding import OnboardingOrder, OrderStatus
from models.outbox import OutboxMessage
from models.register import Employee
from tasks.mail import from_header
from telefoni.core.municipalities import MunicipalityError
from telefoni.core.settings import get_settings
from telefoni.core.vault import vault_from
from tests.factories import code_of
from tests.flows.onboarding_helpers import (
    Background,
    TwoPlaces,
    answer,
    delivery,
    municipalities_file,
    order_for,
    orders,
    two_places,
)


@pytest.fixture
def places(flow_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwoPlaces]:
    """Hallsberg and Laxå configured by a file of municipalities; their colliding workplaces."""
    monkeypatch.setenv("TELEFONI_MUNICIPALITIES_FILE", str(municipalities_file(tmp_path)))
    monkeypatch.setenv("TELEFONI_APPROVAL_POLL_SECONDS", "1")
    get_settings.cache_clear()
    with Session(flow_db) as session, session.begin():
        found = two_places(session, vault_from(get_settings()))
    yield found
    get_settings.cache_clear()


def waiting(engine: Engine, municipality_id: int, status: OrderStatus) -> OnboardingOrder:
    """The municipality's order once it reached `status` with its run paused."""
    from tests.flows.onboarding_helpers import read_run

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for order in orders(engine):
            if order.municipality_id == municipality_id and order.status is status:
                state = read_run(str(order.flow_run_id)).state
                if state is not None and state.is_paused():
                    return order
        time.sleep(0.3)
    raise AssertionError(f"no order of {municipality_id} waits with {status}: {orders(engine)}")


def test_the_same_employee_number_ordered_in_each_municipality_runs_as_two_orders(
    flow_db: Engine, places: TwoPlaces
) -> None:
    request = order_for(places.a, apps=[])  # Hallsberg's first employee; Laxå has the number
    hallsberg = Background(onboarding_order, request, "hallsberg")
    laxa = Background(onboarding_order, request, "Laxå kommun")
    in_a = waiting(flow_db, places.a.municipality_id, OrderStatus.AWAITING_APPROVAL)
    in_b = waiting(flow_db, places.b.municipality_id, OrderStatus.AWAITING_APPROVAL)
    assert in_a.id != in_b.id and in_a.flow_run_id != in_b.flow_run_id

    # In the form: Hallsberg's manager and deputy on Laxå's order are refused, and it waits.
    run_b = str(in_b.flow_run_id)
    for round_, who in enumerate((places.a.manager, "D-HAL"), start=2):
        answer(run_b, decision="godkänn", decided_by=who)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = next(o for o in orders(flow_db) if o.id == in_b.id)
            if now.approval_round >= round_:
                break
            time.sleep(0.3)
        in_b = waiting(flow_db, places.b.municipality_id, OrderStatus.AWAITING_APPROVAL)
        assert in_b.approval_round == round_ and in_b.decided_by is None

    code_a = code_of(flow_db, places.a.municipality_id, places.a.manager)
    answer(str(in_a.flow_run_id), decision="godkänn", decided_by=places.a.manager, code=code_a)
    # Laxå's deputy got no mail with a code: answering without one sends one.
    answer(run_b, decision="godkänn", decided_by="D-LAX")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if next(o for o in orders(flow_db) if o.id == in_b.id).approval_round >= 4:
            break
        time.sleep(0.3)
    waiting(flow_db, places.b.municipality_id, OrderStatus.AWAITING_APPROVAL)
    code_b = code_of(flow_db, places.b.municipality_id, "D-LAX")
    answer(run_b, decision="godkänn", decided_by="D-LAX", code=code_b)
    for municipality_id, n in ((places.a.municipality_id, 81), (places.b.municipality_id, 82)):
        order = waiting(flow_db, municipality_id, OrderStatus.ORDERED)
        answer(str(order.flow_run_id), **delivery(n))
    assert hallsberg.join()["läge"] == {"completed": 1}
    assert laxa.join()["läge"] == {"completed": 1}

    with Session(flow_db) as session:
        done = {o.municipality_id: o for o in session.scalars(select(OnboardingOrder))}
        assert done[places.b.municipality_id].decided_by == "D-LAX"
        for municipality_id, ctx_address, other_id in (
            (places.a.municipality_id, "hallsberg.example", places.b.municipality_id),
            (places.b.municipality_id, "laxa.example", places.a.municipality_id),
        ):
            order = done[municipality_id]
            assert order.employee.municipality_id == municipality_id
            assert order.employee.employee_number == places.shared
            others = session.scalars(
                select(Employee).where(Employee.municipality_id == other_id)
            ).all()
            mails = [
                m
                for m in session.scalars(select(OutboxMessage))
                if from_header(m.raw)[1] == f"telefoni@{ctx_address}"
            ]
            recipients = {m.template: m.recipient for m in mails}
            assert recipients["operatorsbestallning"] == f"bestallning@{ctx_address}"
            assert recipients["nya-mobilnummer"] == f"kontaktcenter@{ctx_address}"
            for mail in mails:
                for other in others:
                    assert other.name not in mail.body_text and other.email != mail.recipient


def test_an_order_without_the_municipality_when_there_are_two_fails_in_swedish(
    flow_db: Engine, places: TwoPlaces
) -> None:
    state = onboarding_order(order_for(places.a), return_state=True)

    assert state.is_failed()
    with pytest.raises(MunicipalityError, match=r"ange vilken kommun det gäller \(--kommun\)"):
        state.result()
    assert orders(flow_db) == []
    assert onboarding_watch() == {"återupptagna körningar": 0}  # each municipality looked at
