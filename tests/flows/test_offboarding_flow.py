"""Offboarding end to end on a real Prefect server and both engines: each disposition, a mixed
case, the gate holding a handover until the factory reset is attested, and an overdue item
reminded and escalated."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.offboarding import offboarding
from models import offboarding_notices as notices
from models.audit import AuditEvent
from models.offboarding import ItemStatus, OffboardingItem, OffboardingStatus
from models.register import (
    Device,
    DeviceStatus,
    DirectoryEntry,
    Employee,
    Subscription,
    SubscriptionStatus,
)
from tests.factories import code_of
from tests.flows.offboarding_helpers import (
    leaver,
    mails_to,
    offboardings,
    request,
    wait_for_waiting,
)
from tests.flows.onboarding_helpers import Background, answer
from tests.integration.operator_stand_in import OperatorStandIn

CONTACT_CENTRE = "kontaktcenter@hallsberg.example"


def _employee(engine: Engine, number: str) -> Employee:
    with Session(engine) as session:
        return session.scalars(select(Employee).where(Employee.employee_number == number)).one()


def _attest(engine: Engine, run_id: str, municipality_id: int, number: str) -> None:
    answer(
        run_id,
        attested_by=number,
        code=code_of(engine, municipality_id, number, about="intyga"),
    )


def test_a_terminated_number_ends_once_at_the_operator_and_the_phone_goes_to_stock(
    flow_db: Engine, operator: OperatorStandIn
) -> None:
    who = leaver(flow_db)
    run = Background(offboarding, request(who))
    run_id = wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT)

    (sent,) = operator.terminations.values()
    assert sent["number"] == who.numbers[0]
    with Session(flow_db) as session:
        sub = session.scalars(
            select(Subscription).where(Subscription.number == who.numbers[0])
        ).one()
        assert sub.status is SubscriptionStatus.TERMINATED and not sub.has_referral

    _attest(flow_db, run_id, who.wp.municipality_id, who.number)  # the passcode (§7.2)
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=2)
    _attest(flow_db, run_id, who.wp.municipality_id, who.wp.manager)  # returned, reset (§8.1)
    result = run.join()

    assert result == {"avslut": 1, "klara": 1}
    (off,) = offboardings(flow_db)
    assert off.status is OffboardingStatus.COMPLETED
    leaver_id = _employee(flow_db, who.number).id
    with Session(flow_db) as session:
        phone = session.scalars(select(Device).where(Device.imei == who.imeis[0])).one()
        assert (phone.status, phone.holder_id) == (DeviceStatus.IN_STOCK, None)
        entry = session.scalars(
            select(DirectoryEntry).where(DirectoryEntry.employee_id == leaver_id)
        ).one()
        assert entry.phone_number is None
        story = [
            e.action
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_id == off.reference)
                .order_by(AuditEvent.seq)
            )
        ]
    assert len(operator.terminations) == 1
    told = mails_to(flow_db, CONTACT_CENTRE, notices.CONTACT_CENTRE)
    assert len(told) == 1 and who.numbers[0] in told[0].body_text
    assert story[:2] == ["offboarding.recorded", "offboarding.planned"]
    assert story[-2:] == ["offboarding.contact_centre_told", "offboarding.completed"]
    assert "offboarding.terminated" in story and story.count("offboarding.attested") == 2


def test_a_handover_waits_for_the_attested_factory_reset_and_then_goes_through(
    flow_db: Engine, operator: OperatorStandIn
) -> None:
    who = leaver(flow_db)
    hand_over = [{"number": who.numbers[0], "disposition": "lämnas över till efterträdaren"}]
    run = Background(offboarding, request(who, successor=who.successor, dispositions=hand_over))
    run_id = wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT)
    leaver_id = _employee(flow_db, who.number).id

    _attest(flow_db, run_id, who.wp.municipality_id, who.number)  # the passcode only
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=2)
    with Session(flow_db) as session:
        phone = session.scalars(select(Device).where(Device.imei == who.imeis[0])).one()
        sub = session.scalars(
            select(Subscription).where(Subscription.number == who.numbers[0])
        ).one()
        assert phone.holder_id == leaver_id and sub.owner_id == leaver_id  # not yet (§8.1)

    _attest(flow_db, run_id, who.wp.municipality_id, who.wp.manager)
    run.join()

    successor = _employee(flow_db, who.successor)
    with Session(flow_db) as session:
        phone = session.scalars(select(Device).where(Device.imei == who.imeis[0])).one()
        sub = session.scalars(
            select(Subscription).where(Subscription.number == who.numbers[0])
        ).one()
        entry = session.scalars(
            select(DirectoryEntry).where(DirectoryEntry.employee_id == successor.id)
        ).one()
        (item,) = session.scalars(select(OffboardingItem)).all()
    assert (phone.holder_id, phone.status) == (successor.id, DeviceStatus.IN_USE)
    assert (sub.owner_id, sub.status) == (successor.id, SubscriptionStatus.ACTIVE)
    assert entry.phone_number == who.numbers[0]
    assert item.status is ItemStatus.HANDED_OVER
    assert operator.terminations == {}
