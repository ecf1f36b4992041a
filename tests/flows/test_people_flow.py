"""Who answers is proved, through the run's form and the terminal alike; what waits for whom
is listed in the terminal and on the reminders run."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.settings import PREFECT_API_URL
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.onboarding import onboarding_order
from flows.reminders import reminders
from models.asks import Ask
from models.onboarding import OrderStatus
from models.onboarding_forms import OrderRequest
from models.register import Employee, PhoneModel, Subscription, SubscriptionOption
from telefoni import demo
from telefoni.core.settings import get_settings
from telefoni.core.tenancy import municipality_id
from telefoni.core.vault import vault_from
from tests.cli import telefoni
from tests.factories import Workplace, code_of
from tests.flows.onboarding_helpers import (
    Background,
    answer,
    delivery,
    form_text,
    order_for,
    orders,
    wait_for_log,
    wait_for_pause,
    wait_for_round,
    wait_for_state,
)


def api() -> str:
    return str(PREFECT_API_URL.value())


def the_ask(engine: Engine) -> Ask:
    with Session(engine) as session:
        (ask,) = session.scalars(select(Ask)).all()
        return ask


def test_the_form_refuses_a_wrong_or_missing_code_at_once_and_takes_the_right_one(
    flow_db: Engine, wp: Workplace
) -> None:
    run = Background(onboarding_order, order_for(wp))
    run_id = wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    (order,) = orders(flow_db)
    mailed = code_of(flow_db, wp.municipality_id, wp.manager)
    wrong = "1234 5678" if mailed != "1234 5678" else "8765 4321"

    # The manager's own number, a wrong code: refused, counted, said in the log and on the form.
    answer(run_id, decision="godkänn", decided_by=wp.manager, code=wrong)
    wait_for_round(flow_db, order.id, 2)
    wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    assert orders(flow_db)[0].decided_by is None
    assert the_ask(flow_db).failed_attempts == 1
    said = "Fel engångskod: svaret registrerades inte. 4 försök kvar innan ärendet låses."
    assert wait_for_log(run_id, said) == said
    assert form_text(run_id).startswith(f"**{said}**")

    # No code: one is mailed to them; the first one no longer works.
    answer(run_id, decision="godkänn", decided_by=wp.manager)
    wait_for_round(flow_db, order.id, 3)
    wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    assert "En ny kod har skickats" in form_text(run_id)
    fresh = code_of(flow_db, wp.municipality_id, wp.manager)
    assert fresh != mailed

    # The terminal: the same checks, the same count. (It finds the server as an admin's
    # does: from the UI's address in the settings, no PREFECT_API_URL.)
    refused = telefoni(
        "approve", order.reference, "--approve", "--as", wp.manager, "--code", mailed,
        engine=flow_db, PREFECT_API_URL="", TELEFONI_PREFECT_UI_URL=api().removesuffix("/api"),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "Fel engångskod: svaret registrerades inte. 3 försök kvar" in refused.stderr
    assert the_ask(flow_db).failed_attempts == 2

    answer(run_id, decision="godkänn", decided_by=wp.manager, code=fresh)
    wait_for_pause(flow_db, OrderStatus.ORDERED)
    assert orders(flow_db)[0].decided_by == wp.manager

    # Used once: never again.
    again = telefoni(
        "approve", order.reference, "--reject", "--as", wp.manager, "--code", fresh,
        engine=flow_db, PREFECT_API_URL=api(),
    )  # fmt: skip
    assert again.returncode == 1
    assert "väntar på beslut" in again.stderr
    answer(run_id, **delivery(5))
    assert run.join()["läge"] == {"completed": 1}


def demo_orders(session: Session, count: int) -> tuple[Employee, list[OrderRequest]]:
    """A demo manager and orders for `count` of their staff (new phones, replacing any)."""
    phones = set(
        session.scalars(select(Subscription.owner_id).where(Subscription.owner_id.is_not(None)))
    )
    staff = session.scalars(
        select(Employee)
        .where(
            Employee.manager_id.is_not(None),
            Employee.need_category.in_([1, 2]),
            Employee.employment_end.is_(None),
        )
        .order_by(Employee.manager_id, Employee.id)
    ).all()
    by_manager: dict[int, list[Employee]] = {}
    for person in staff:
        by_manager.setdefault(int(person.manager_id or 0), []).append(person)
    manager_id, people = next((m, p) for m, p in by_manager.items() if len(p) >= count)
    manager = session.get(Employee, manager_id)
    assert manager is not None
    model = session.scalars(select(PhoneModel).where(PhoneModel.is_standard)).first()
    option = session.scalars(
        select(SubscriptionOption).where(SubscriptionOption.includes_data)
    ).first()
    assert model is not None and option is not None
    return manager, [
        OrderRequest(
            employee_number=p.employee_number,
            need_category=p.need_category,
            phone_model=model.name,
            subscription_option=option.code,
            requested_by=manager.employee_number,
            replacement=p.id in phones,
        )
        for p in people[:count]
    ]


@pytest.fixture
def demo_town(flow_db: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The demo's Sjöbacka kommun (120 people) in the flows' register."""
    monkeypatch.setenv("TELEFONI_MUNICIPALITY", "Sjöbacka kommun")
    monkeypatch.setenv("TELEFONI_APPROVAL_POLL_SECONDS", "1")
    get_settings.cache_clear()
    settings = get_settings()
    with Session(flow_db) as session, session.begin():
        demo.load(
            session,
            demo.generate(employees=120, seed=3, today=date.today()),
            vault=vault_from(settings),
            municipality_id=municipality_id(session, settings.home),
        )
    return flow_db


def test_pending_lists_both_orders_for_their_manager_and_the_reminders_run_shows_them(
    demo_town: Engine,
) -> None:
    with Session(demo_town) as session:
        manager, requests = demo_orders(session, 2)
    runs = [Background(onboarding_order, r) for r in requests]
    deadline = time.monotonic() + 120
    while len([o for o in orders(demo_town) if o.ask_id]) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    for order in orders(demo_town):
        wait_for_state(str(order.flow_run_id), "Paused")
    with Session(demo_town) as session:
        asks = session.scalars(select(Ask).order_by(Ask.id)).all()
    assert len(asks) == 2

    shown = telefoni("pending", "--as", manager.employee_number, engine=demo_town)
    assert shown.returncode == 0, shown.stderr
    assert f"2 ärenden väntar på {manager.name} ({manager.employee_number}), äldst först:" in (
        shown.stdout
    )
    tz = get_settings().tz
    for ask in asks:
        assert f"{ask.reference}  {ask.title}" in shown.stdout
        assert f"senast:     {ask.due_at.astimezone(tz):%Y-%m-%d %H:%M}" in shown.stdout
    nobody = telefoni("pending", "--as", "X-0", engine=demo_town)
    assert "Inget väntar på X-0." in nobody.stdout

    state = reminders(return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        (table,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["pending-asks"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    rows: list[dict[str, str]] = (
        json.loads(table.data) if isinstance(table.data, str) else table.data  # type: ignore[assignment]
    )
    assert [r["ärende"] for r in rows] == [a.reference for a in asks]
    assert [r["senast"] for r in rows] == [
        f"{a.due_at.astimezone(tz):%Y-%m-%d %H:%M}" for a in asks
    ]
    assert {r["väntar på"] for r in rows} == {f"{manager.name} ({manager.employee_number})"}

    for order in orders(demo_town):  # the manager says no to both: the runs end
        code = code_of(demo_town, order.municipality_id, manager.employee_number, order.reference)
        answer(
            str(order.flow_run_id), decision="avslå", decided_by=manager.employee_number, code=code
        )
    for run in runs:
        assert run.join()["läge"] == {"rejected": 1}
