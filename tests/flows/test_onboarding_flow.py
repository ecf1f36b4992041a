"""The onboarding order under a real Prefect server: approve, reject, wrong approver, deadline."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.onboarding import OrdersRefused, onboarding_order
from flows.reminders import reminders
from models import onboarding_notices as notices
from models.asks import Ask
from models.audit import history
from models.onboarding import OBJECT_TYPE, OrderStatus
from models.outbox import OutboxMessage
from models.register import Device, DirectoryEntry, Subscription, SubscriptionStatus
from telefoni.core.settings import get_settings
from tests.cli import telefoni
from tests.factories import Workplace, code_of
from tests.flows.onboarding_helpers import (
    Background,
    answer,
    delivery,
    order_for,
    orders,
    wait_for_pause,
)

STORY = [
    "onboarding.requested",
    "onboarding.checked",
    "onboarding.approval_requested",
    "onboarding.approved",
    "onboarding.ordered",
    "onboarding.delivered",
    "onboarding.registered",
    "onboarding.notified",
]


def story(engine: Engine, reference: str) -> list[str]:
    with Session(engine) as session:
        return [e.action for e in history(session, object_type=OBJECT_TYPE, object_id=reference)]


def mails(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_approved_order_is_ordered_delivered_registered_and_told(
    flow_db: Engine, wp: Workplace
) -> None:
    run = Background(onboarding_order, order_for(wp))
    run_id = wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    answer(
        run_id,
        decision="godkänn",
        decided_by=wp.manager,
        code=code_of(flow_db, wp.municipality_id, wp.manager),
        approved_apps=["Ritverktyg Pro"],
        comment="Behövs i fält",
    )
    wait_for_pause(flow_db, OrderStatus.ORDERED)  # the e-mail channel: delivery by form
    answer(run_id, **delivery(1))
    result = run.join()

    (order,) = orders(flow_db)
    assert result["läge"] == {"completed": 1}
    assert order.status is OrderStatus.COMPLETED
    assert order.decided_by == wp.manager
    assert [a["name"] for a in order.apps if a["approved"]] == ["Ritverktyg Pro"]
    with Session(flow_db) as session:
        sub = session.get(Subscription, order.subscription_id)
        device = session.get(Device, order.device_id)
        entry = session.scalar(
            select(DirectoryEntry).where(DirectoryEntry.employee_id == order.employee_id)
        )
        assert sub is not None and device is not None and entry is not None
        assert sub.status is SubscriptionStatus.ACTIVE
        assert sub.has_referral and sub.referral_calendar_link  # §4.2.3
        assert sub.number == delivery(1)["number"]
        assert device.imei == delivery(1)["imei"]
        assert entry.phone_number == sub.number

    sent = {m.template + ":" + m.business_key.split(":")[0]: m for m in mails(flow_db)}
    to_operator = sent["operatorsbestallning:" + order.operator_key.split(":")[0]]  # type: ignore[union-attr]
    assert to_operator.recipient == get_settings().home.ordering_function_email
    assert "Ritverktyg Pro" in to_operator.body_text
    assert "Kartor Plus" not in to_operator.body_text  # not approved: not ordered (§4.2.4)
    welcome = sent[f"{notices.PHONE_READY}:onboarding-welcome"]
    assert "lösenkod på minst fyra siffror" in welcome.body_text  # §7.2
    to_contact_centre = sent[f"{notices.NEW_NUMBERS}:onboarding-directory"]
    assert to_contact_centre.recipient == get_settings().home.contact_centre_email
    assert f"{notices.APPROVAL_REQUEST}:onboarding-approval" in sent

    assert story(flow_db, order.reference) == STORY
    shown = telefoni("audit", "show", "--order", order.reference.lower(), engine=flow_db)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()[1:]  # piped: a header, then one plain line per event
    assert [next(a for a in STORY if f" {a} " in line) for line in lines] == STORY
    assert f"| person:{wp.manager} | onboarding.approved |" in shown.stdout


def test_rejected_order_is_not_ordered(flow_db: Engine, wp: Workplace) -> None:
    run = Background(onboarding_order, order_for(wp))
    run_id = wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    answer(
        run_id,
        decision="avslå",
        decided_by=wp.manager,
        code=code_of(flow_db, wp.municipality_id, wp.manager),
        comment="Kategori 2 räcker inte",
    )
    result = run.join()

    (order,) = orders(flow_db)
    assert result["läge"] == {"rejected": 1}
    assert order.decision_comment == "Kategori 2 räcker inte"
    assert order.operator_key is None
    assert not [m for m in mails(flow_db) if m.template == "operatorsbestallning"]
    assert story(flow_db, order.reference)[-1] == "onboarding.rejected"


def test_someone_else_is_refused_and_the_manager_is_asked_again(
    flow_db: Engine, wp: Workplace
) -> None:
    run = Background(onboarding_order, order_for(wp))
    run_id = wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    answer(run_id, decision="godkänn", decided_by=wp.other_manager)
    # The run waits again, on a new form; the order is still undecided.
    deadline = time.monotonic() + 60
    while orders(flow_db)[0].approval_round < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    (order,) = orders(flow_db)
    assert order.decided_by is None
    assert story(flow_db, order.reference)[-1] == "onboarding.decision_refused"

    code = code_of(flow_db, wp.municipality_id, wp.manager)
    answer(run_id, decision="avslå", decided_by=wp.manager, code=code)
    run.join()
    (order,) = orders(flow_db)
    assert order.status is OrderStatus.REJECTED and order.decided_by == wp.manager


def asked_earlier(engine: Engine, by: timedelta) -> None:
    """The clock moved on by `by`: as if the manager had been asked that much earlier."""
    with Session(engine) as session, session.begin():
        for ask in session.scalars(select(Ask)):
            ask.asked_at -= by
            ask.due_at -= by


def test_no_decision_by_the_deadline_rejects_automatically(flow_db: Engine, wp: Workplace) -> None:
    run = Background(onboarding_order, order_for(wp))
    wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)
    deadline = timedelta(days=get_settings().home.approval_deadline_days)
    asked_earlier(flow_db, deadline + timedelta(minutes=1))  # the deadline passed a minute ago
    assert reminders()["väckta körningar"] == 1
    result = run.join()

    (order,) = orders(flow_db)
    assert result["läge"] == {"rejected": 1}
    assert order.decided_by == "system"
    assert "ingen beslutade" in (order.decision_comment or "")
    events = story(flow_db, order.reference)
    assert events[-1] == "onboarding.rejected"
    assert not [m for m in mails(flow_db) if m.template == "operatorsbestallning"]


def test_an_order_against_the_guideline_fails_with_its_paragraph(
    flow_db: Engine, wp: Workplace
) -> None:
    state = onboarding_order(order_for(wp, need_category=3), return_state=True)

    assert state.is_failed()
    with pytest.raises(OrdersRefused, match=r"§4\.1"):
        state.result()
    (order,) = orders(flow_db)
    assert order.status is OrderStatus.REFUSED
    assert story(flow_db, order.reference) == [
        "onboarding.requested",
        "onboarding.checked",
        "onboarding.refused",
    ]
    no_manager_asked = [m for m in mails(flow_db) if m.template == notices.APPROVAL_REQUEST]
    assert not no_manager_asked


def test_the_same_request_twice_is_one_order_handled_by_one_run(
    flow_db: Engine, wp: Workplace
) -> None:
    first = Background(onboarding_order, order_for(wp))
    run_id = wait_for_pause(flow_db, OrderStatus.AWAITING_APPROVAL)

    second = onboarding_order(order_for(wp))  # e.g. the form sent twice

    assert second["hanteras av"] == [run_id]
    answer(
        run_id,
        decision="avslå",
        decided_by=wp.manager,
        code=code_of(flow_db, wp.municipality_id, wp.manager),
    )
    first.join()
    (order,) = orders(flow_db)
    assert order.status is OrderStatus.REJECTED
    assert story(flow_db, order.reference).count("onboarding.requested") == 1
