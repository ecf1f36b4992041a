"""Offboarding end to end on a real Prefect server and both engines: each disposition, a mixed
case, the gate holding a handover until the factory reset is attested, and an overdue item
reminded and escalated."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.offboarding import offboarding, offboarding_batch
from models import offboarding_notices as notices
from models.audit import AuditEvent
from models.base import utcnow
from models.offboarding import ChecklistItem, ItemStatus, OffboardingItem, OffboardingStatus, Task
from models.ordering import TERMINATION_TEMPLATE
from models.outbox import OutboxMessage
from models.register import (
    Device,
    DeviceStatus,
    DirectoryEntry,
    Employee,
    Subscription,
    SubscriptionStatus,
)
from tasks.kinds import KINDS
from tasks.offboarding.base import context_from
from tasks.offboarding.recorded import record_starts
from tasks.people import ask_context_from, watch
from telefoni.core.settings import get_settings
from tests.factories import CODE_IN_MAIL, code_of
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


def _attest(engine: Engine, run_id: str, municipality_id: int, number: str, *scrapped: str) -> None:
    answer(
        run_id,
        attested_by=number,
        code=code_of(engine, municipality_id, number, about="intyga"),
        scrapped=list(scrapped),
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


def test_a_private_takeover_is_recorded_as_waiting_and_the_phone_still_comes_back(
    flow_db: Engine, operator: OperatorStandIn
) -> None:
    who = leaver(flow_db)
    takeover = [{"number": who.numbers[0], "disposition": "privat övertagande"}]
    run = Background(offboarding, request(who, dispositions=takeover))
    run_id = wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT)
    _attest(flow_db, run_id, who.wp.municipality_id, who.number)
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=2)
    _attest(flow_db, run_id, who.wp.municipality_id, who.wp.manager)
    run.join()

    with Session(flow_db) as session:
        (item,) = session.scalars(select(OffboardingItem)).all()
        sub = session.scalars(
            select(Subscription).where(Subscription.number == who.numbers[0])
        ).one()
        phone = session.scalars(select(Device).where(Device.imei == who.imeis[0])).one()
        events = [
            (e.action, e.rule)
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action.like("offboarding.%"))
            )
        ]
    assert item.status is ItemStatus.TAKEOVER_WAITING
    assert sub.status is SubscriptionStatus.ACTIVE  # until the manager decides (§8.2)
    assert phone.status is DeviceStatus.IN_STOCK
    assert ("offboarding.takeover_requested", "§8.2") in events
    assert operator.terminations == {}
    (told,) = mails_to(flow_db, CONTACT_CENTRE, notices.CONTACT_CENTRE)
    assert "§8.2" in told.body_text


def test_two_subscriptions_one_handed_over_one_terminated(
    flow_db: Engine, operator: OperatorStandIn
) -> None:
    who = leaver(flow_db, subscriptions=2)
    kept, ended = who.numbers
    choices = [
        {"number": kept, "disposition": "lämnas över till efterträdaren"},
        {"number": ended, "disposition": "sägs upp"},
    ]
    run = Background(offboarding, request(who, successor=who.successor, dispositions=choices))
    run_id = wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT)
    # The manager attests both phones, and records the terminated one's as scrapped.
    _attest(flow_db, run_id, who.wp.municipality_id, who.wp.manager, who.imeis[1])
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=2)
    _attest(flow_db, run_id, who.wp.municipality_id, who.number)
    assert run.join() == {"avslut": 1, "klara": 1}

    successor = _employee(flow_db, who.successor)
    with Session(flow_db) as session:
        subs = {
            s.number: s
            for s in session.scalars(
                select(Subscription).where(Subscription.number.in_(who.numbers))
            )
        }
        phones = {
            d.imei: d for d in session.scalars(select(Device).where(Device.imei.in_(who.imeis)))
        }
    assert subs[kept].owner_id == successor.id and subs[kept].status is SubscriptionStatus.ACTIVE
    assert subs[ended].status is SubscriptionStatus.TERMINATED
    assert phones[who.imeis[0]].holder_id == successor.id
    assert phones[who.imeis[1]].status is DeviceStatus.DISPOSED
    assert [t["number"] for t in operator.terminations.values()] == [ended]
    (told,) = mails_to(flow_db, CONTACT_CENTRE, notices.CONTACT_CENTRE)
    assert kept in told.body_text and ended in told.body_text
    assert (
        len(mails_to(flow_db, _employee(flow_db, who.number).email or "", notices.EMPLOYEE_LEAVING))
        == 1
    )


def test_an_overdue_attestation_is_reminded_then_escalated_to_the_managers_manager(
    flow_db: Engine, operator: OperatorStandIn
) -> None:
    who = leaver(flow_db)
    with Session(flow_db, expire_on_commit=False) as session, session.begin():
        # The manager has a manager of their own.
        boss = session.scalars(
            select(Employee).where(Employee.employee_number == who.wp.manager)
        ).one()
        above = session.scalars(
            select(Employee).where(Employee.employee_number == who.wp.other_manager)
        ).one()
        boss.manager_id = above.id
    hand_over = [{"number": who.numbers[0], "disposition": "lämnas över till efterträdaren"}]
    run = Background(offboarding, request(who, successor=who.successor, dispositions=hand_over))
    run_id = wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT)
    _attest(flow_db, run_id, who.wp.municipality_id, who.number)
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=2)
    settings = get_settings()
    ctx = ask_context_from(settings, settings.kommun(None), who.wp.municipality_id)

    def checklist() -> list[OutboxMessage]:
        return mails_to(flow_db, boss.email or "", notices.CHECKLIST_REQUEST)

    assert len(checklist()) == 1

    with Session(flow_db) as session, session.begin():  # two days later: a reminder, no code
        counts = watch(session, kinds=KINDS, ctx=ctx, now=utcnow() + timedelta(hours=49))
    assert counts.reminded == 1 and counts.escalated == 0
    reminder = checklist()[-1]
    assert reminder.subject.startswith("Påminnelse")
    assert CODE_IN_MAIL.search(reminder.body_text) is None  # the first mail's code still holds

    with Session(flow_db) as session, session.begin():  # overdue: to the manager's manager
        counts = watch(session, kinds=KINDS, ctx=ctx, now=utcnow() + timedelta(days=9))
    assert counts.escalated == 1
    (up,) = mails_to(flow_db, above.email or "", notices.CHECKLIST_REQUEST)
    assert "fabriksåterställ" in up.body_text

    _attest(flow_db, run_id, who.wp.municipality_id, above.employee_number)
    run.join()
    with Session(flow_db) as session:
        phone = session.scalars(select(Device).where(Device.imei == who.imeis[0])).one()
        reset = session.scalars(
            select(ChecklistItem).where(ChecklistItem.task == Task.FACTORY_RESET)
        ).one()
    assert phone.holder_id == _employee(flow_db, who.successor).id
    assert reset.attested_by == above.employee_number


def test_the_syncs_plan_is_confirmed_or_changed_by_the_manager(
    flow_db: Engine, operator: OperatorStandIn
) -> None:
    """The sync planned everything terminated; the manager hands one number over instead."""
    who = leaver(flow_db, subscriptions=2)
    kept, ended = who.numbers
    settings = get_settings()
    with Session(flow_db) as session, session.begin():
        person = session.scalars(select(Employee).where(Employee.employee_number == who.number))
        person.one().employment_end = date.today()
        ctx = context_from(settings, None, settings.kommun(None), who.wp.municipality_id)
        ids = record_starts(
            session,
            municipality_id=ctx.municipality_id,
            window_days=ctx.window_days,
            today=date.today(),
            actor=ctx.actor,
        )
    references = [f"AVS-{i:06d}" for i in ids]
    run = Background(offboarding_batch, references)
    run_id = wait_for_waiting(flow_db, OffboardingStatus.CONFIRMING)
    mid = who.wp.municipality_id
    answer(
        run_id,
        decision="ändra",
        decided_by=who.wp.manager,
        code=code_of(flow_db, mid, who.wp.manager, "din bekräftelse"),
        changes=[
            {
                "number": kept,
                "disposition": "lämnas över till efterträdaren",
                "successor": who.successor,
            }
        ],
    )
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=2)
    _attest(flow_db, run_id, mid, who.wp.manager)
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=3)
    _attest(flow_db, run_id, mid, who.number)
    run.join()

    with Session(flow_db) as session:
        subs = {
            s.number: s
            for s in session.scalars(
                select(Subscription).where(Subscription.number.in_(who.numbers))
            )
        }
    assert subs[kept].owner_id == _employee(flow_db, who.successor).id
    assert subs[ended].status is SubscriptionStatus.TERMINATED
    assert [t["number"] for t in operator.terminations.values()] == [ended]


def test_by_e_mail_the_termination_goes_to_the_ordering_function_and_a_person_confirms_it(
    flow_db: Engine,
) -> None:
    """The default gateway: the ordering function gets the termination as a mail; the run
    waits until someone registers the operator's confirmation."""
    who = leaver(flow_db)
    run = Background(offboarding, request(who))
    run_id = wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT)
    (order,) = mails_to(flow_db, "bestallning@hallsberg.example", TERMINATION_TEMPLATE)
    assert who.numbers[0] in order.body_text
    with Session(flow_db) as session:
        sub = session.scalars(
            select(Subscription).where(Subscription.number == who.numbers[0])
        ).one()
        assert sub.status is SubscriptionStatus.ACTIVE  # not before the operator confirms
    # Meanwhile the checklist's owners have their mails of the last day.
    assert mails_to(flow_db, _employee(flow_db, who.number).email or "", notices.CHECKLIST_REQUEST)

    answer(run_id, numbers=[who.numbers[0]], confirmed_by="IT1")
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=2)
    _attest(flow_db, run_id, who.wp.municipality_id, who.number)
    wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=3)
    _attest(flow_db, run_id, who.wp.municipality_id, who.wp.manager)
    assert run.join() == {"avslut": 1, "klara": 1}
    with Session(flow_db) as session:
        sub = session.scalars(
            select(Subscription).where(Subscription.number == who.numbers[0])
        ).one()
    assert sub.status is SubscriptionStatus.TERMINATED
    assert len(mails_to(flow_db, "bestallning@hallsberg.example", TERMINATION_TEMPLATE)) == 1
