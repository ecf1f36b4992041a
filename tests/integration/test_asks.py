"""People in the loop: the mechanism every waiting process uses, shown on onboarding's ask.

Time is moved, never waited for: the watch and every answer are given the moment they happen.
Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.asks import Ask, AskStatus
from models.audit import Actor, AuditEvent, history
from models.onboarding import OBJECT_TYPE, OnboardingOrder, OrderStatus
from models.outbox import OutboxMessage
from models.personnummer import PersonnummerVault
from models.register import Employee
from tasks.kinds import KINDS
from tasks.onboarding import APPROVAL, Context, ask_for_approval
from tasks.people import Given, answer, unlock, watch
from tests import factories
from tests.integration.test_onboarding_ordering import home_ctx

ASKED = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)
RUN = "5b1f7c4e-0000-4000-8000-0000000000a5"


@dataclass(frozen=True)
class Asked:
    ctx: Context
    order: OnboardingOrder
    ask: Ask
    manager: Employee
    chief: Employee  # the manager's manager
    deputy: Employee
    requester: str


def asked(session: Session, vault: PersonnummerVault) -> Asked:
    """An order waiting for its manager, whose own manager is in the register, and a deputy:
    deadline 14 days, a reminder every 48 hours, to the manager's manager after 7 days."""
    wp = factories.workplace(session, vault, staff=1)
    manager = session.scalars(
        select(Employee).where(
            Employee.municipality_id == wp.municipality_id,
            Employee.employee_number == wp.manager,
        )
    ).one()
    where: dict[str, Any] = {"unit_id": manager.unit_id, "cost_centre_id": manager.cost_centre_id}
    chief = factories.employee(session, vault, first_name="Kerstin", **where)
    manager.manager_id = chief.id
    deputy = factories.employee(session, vault, first_name="Dan", **where)
    order = factories.onboarding_order(
        session,
        wp,
        wp.staff[0],
        status=OrderStatus.AWAITING_APPROVAL,
        decided_by=None,
        flow_run_id=RUN,
    )
    ctx = replace(
        home_ctx(session),
        deputies=frozenset({deputy.employee_number}),
        escalate_after=timedelta(days=7),
    )
    ask_for_approval(session, [order.id], ctx=ctx, now=ASKED)
    ask = session.get(Ask, order.ask_id)
    assert ask is not None
    return Asked(ctx, order, ask, manager, chief, deputy, wp.manager)


def status_now(order: OnboardingOrder) -> OrderStatus:
    """The order's status now (an answer in between may have changed it)."""
    return order.status


def mails_to(session: Session, person: Employee) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == person.email)
            .order_by(OutboxMessage.id)
        )
    )


def code_of(session: Session, a: Asked, person: Employee) -> str:
    return factories.code_sent_to(session, a.order.municipality_id, person.employee_number)


def reply(
    session: Session, a: Asked, who: str, code: str, decision: str = "godkänn", *, at: timedelta
) -> tuple[bool, str]:
    outcome = answer(
        session,
        a.ask.id,
        Given(who=who, code=code, answer=decision),
        kind=APPROVAL,
        ctx=a.ctx.asking,
        now=ASKED + at,
    )
    return outcome.accepted, outcome.message


def ask_story(session: Session, a: Asked) -> list[str]:
    return [e.action for e in history(session, object_type="ask", object_id=a.ask.reference)]


def order_story(session: Session, a: Asked) -> list[str]:
    found = history(session, object_type=OBJECT_TYPE, object_id=a.order.reference)
    return [e.action for e in found]


def pass_of_the_watch(session: Session, a: Asked, at: timedelta) -> None:
    watch(session, kinds=KINDS, ctx=a.ctx.asking, now=ASKED + at)


def test_a_reminder_goes_at_the_interval_and_not_before(
    session: Session, vault: PersonnummerVault
) -> None:
    a = asked(session, vault)
    (first,) = mails_to(session, a.manager)
    assert "Din engångskod:" in first.body_text

    pass_of_the_watch(session, a, timedelta(hours=47, minutes=59))
    assert len(mails_to(session, a.manager)) == 1
    pass_of_the_watch(session, a, timedelta(hours=48))
    pass_of_the_watch(session, a, timedelta(hours=49))  # the same interval: no second reminder
    _, reminder = mails_to(session, a.manager)
    assert reminder.subject == f"Påminnelse: Beställning att godkänna: {a.order.reference}"
    assert "Din engångskod:" not in reminder.body_text  # the first mail's code still holds
    pass_of_the_watch(session, a, timedelta(hours=96))
    assert len(mails_to(session, a.manager)) == 3
    assert a.ask.reminders_sent == 2
    assert ask_story(session, a) == ["ask.opened", "ask.reminded", "ask.reminded"]
    assert not mails_to(session, a.chief)  # not yet a week


def test_unanswered_it_goes_to_the_managers_manager_who_may_then_answer(
    session: Session, vault: PersonnummerVault
) -> None:
    a = asked(session, vault)
    early = reply(session, a, a.chief.employee_number, "0000 0000", at=timedelta(days=1))
    assert early == (
        False,
        f"{a.chief.employee_number} får inte besluta om beställningen: bara chefen "
        f"({a.manager.employee_number}) eller en utsedd ersättare i Sjöbacka kommun "
        f"({a.deputy.employee_number}) kan göra det. Beslutet registrerades inte.",
    )

    pass_of_the_watch(session, a, timedelta(days=7) - timedelta(minutes=1))
    assert not mails_to(session, a.chief)
    pass_of_the_watch(session, a, timedelta(days=7))
    (escalation,) = mails_to(session, a.chief)
    assert escalation.subject.startswith("Till dig som chefens chef:")
    assert f"Den gick till {a.manager.name}, som inte har svarat" in escalation.body_text
    assert a.ask.escalated_to_id == a.chief.id
    pass_of_the_watch(session, a, timedelta(days=7, hours=1))  # and a reminder, to both
    assert [m.subject.split(":")[0] for m in mails_to(session, a.chief)] == [
        "Till dig som chefens chef",
        "Påminnelse",
    ]
    assert mails_to(session, a.manager)[-1].subject.startswith("Påminnelse")

    code = code_of(session, a, a.chief)
    assert code != code_of(session, a, a.manager)  # a code of their own
    accepted, _ = reply(session, a, a.chief.employee_number, code, at=timedelta(days=8))
    assert accepted
    assert a.order.status is OrderStatus.APPROVED
    assert a.order.decided_by == a.chief.employee_number
    story = ask_story(session, a)
    assert story.count("ask.escalated") == 1 and story[-1] == "ask.answered"


def test_a_deputy_asks_for_a_code_and_may_answer(
    session: Session, vault: PersonnummerVault
) -> None:
    a = asked(session, vault)
    number = a.deputy.employee_number
    accepted, message = reply(session, a, number, "", at=timedelta(hours=2))
    assert not accepted
    assert "Ingen engångskod angavs. En ny kod har skickats till" in message
    assert a.ask.status is AskStatus.OPEN
    (mail,) = mails_to(session, a.deputy)
    assert mail.subject == f"Din engångskod för {a.ask.title}"

    accepted, _ = reply(
        session, a, number, code_of(session, a, a.deputy), "avslå", at=timedelta(hours=3)
    )
    assert accepted
    assert a.order.status is OrderStatus.REJECTED and a.order.decided_by == number
    assert order_story(session, a)[-1] == "onboarding.rejected"


def test_anyone_else_is_refused_and_the_step_stays_open(
    session: Session, vault: PersonnummerVault
) -> None:
    a = asked(session, vault)
    manager_code = code_of(session, a, a.manager)
    for who in ("E-UNKNOWN", a.requester if a.requester != a.manager.employee_number else "X1"):
        accepted, message = reply(session, a, who, manager_code, at=timedelta(hours=1))
        assert not accepted
        assert f"{who} får inte besluta om beställningen" in message
        assert f"bara chefen ({a.manager.employee_number})" in message
    assert a.ask.status is AskStatus.OPEN and a.ask.failed_attempts == 0
    assert a.order.status is OrderStatus.AWAITING_APPROVAL and a.order.decided_by is None
    assert ask_story(session, a) == ["ask.opened", "ask.refused", "ask.refused"]
    # The manager's code still works for the manager.
    accepted, _ = reply(session, a, a.manager.employee_number, manager_code, at=timedelta(hours=2))
    assert accepted


def test_an_answer_given_twice_counts_once(session: Session, vault: PersonnummerVault) -> None:
    a = asked(session, vault)
    code = code_of(session, a, a.manager)
    number = a.manager.employee_number
    assert reply(session, a, number, code, at=timedelta(hours=1))[0]
    again = reply(session, a, number, code, at=timedelta(hours=2))
    assert again == (True, f"Ditt svar på {a.ask.title} var redan registrerat.")
    other = reply(session, a, number, code, "avslå", at=timedelta(hours=3))
    assert other == (
        False,
        f"{a.ask.title} är redan besvarat av {number}. Ditt svar registrerades inte.",
    )
    assert order_story(session, a).count("onboarding.approved") == 1
    assert ask_story(session, a).count("ask.answered") == 1
    decisions = [m for m in session.scalars(select(OutboxMessage)) if m.template == "beslutsbesked"]
    assert len(decisions) == 1  # whoever ordered is told once
    assert a.order.status is OrderStatus.APPROVED


def test_wrong_codes_are_counted_and_lock_the_step_and_the_right_one_works_once(
    session: Session, vault: PersonnummerVault
) -> None:
    a = asked(session, vault)
    number = a.manager.employee_number
    right = code_of(session, a, a.manager)
    wrong = "1111 1111" if right != "1111 1111" else "2222 2222"

    accepted, message = reply(session, a, number, wrong, at=timedelta(minutes=1))
    assert not accepted and "Fel engångskod" in message and "4 försök kvar" in message
    assert a.ask.failed_attempts == 1 and a.order.status is OrderStatus.AWAITING_APPROVAL

    # No code: a new one is mailed, and the old one stops working.
    accepted, message = reply(session, a, number, "", at=timedelta(minutes=2))
    assert not accepted and "En ny kod har skickats" in message
    fresh = code_of(session, a, a.manager)
    assert fresh != right
    assert not reply(session, a, number, right, at=timedelta(minutes=3))[0]  # replaced: wrong
    for n in range(3):
        accepted, message = reply(session, a, number, wrong, at=timedelta(minutes=4 + n))
    assert "Ärendet är nu låst efter 5 felaktiga koder" in message
    assert a.ask.locked_at is not None
    (locked,) = [m for m in session.scalars(select(OutboxMessage)) if m.template == "arende-last"]
    assert locked.recipient == a.ctx.admin_email
    assert f"telefoni unlock {a.ask.reference}" in locked.body_text
    accepted, message = reply(session, a, number, fresh, at=timedelta(minutes=10))
    assert not accepted and "är låst" in message  # even the right code, while locked
    assert a.order.status is OrderStatus.AWAITING_APPROVAL

    said = unlock(
        session, a.ask.id, by=Actor.person("IT"), ctx=a.ctx.asking,
        now=ASKED + timedelta(minutes=20),
    )  # fmt: skip
    assert (
        said
        == f"{a.ask.reference} är upplåst; {a.manager.name} ({number}) har fått en ny engångskod."
    )
    after_unlock = code_of(session, a, a.manager)
    assert reply(session, a, number, after_unlock, at=timedelta(minutes=21))[0]
    assert status_now(a.order) is OrderStatus.APPROVED
    # Used: it never works again, not even on another question.
    assert not reply(session, a, number, after_unlock, "avslå", at=timedelta(minutes=22))[0]

    actions = ask_story(session, a)
    assert actions.count("ask.wrong_code") == 5 and actions.count("ask.locked") == 1
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == a.ask.reference)
    ).all()
    written = json.dumps([[e.reason, e.before, e.after] for e in events], ensure_ascii=False)
    for code in (right, fresh, after_unlock, wrong):
        assert code not in written and code.replace(" ", "") not in written
    (answered,) = [e for e in events if e.action == "ask.answered"]
    assert json.loads(str(answered.after)) == {"svar": "godkänd", "engångskod": "stämde"}


def test_a_code_holds_only_for_its_own_ask(session: Session, vault: PersonnummerVault) -> None:
    a, b = asked(session, vault), asked(session, vault)
    code_a = code_of(session, a, a.manager)
    accepted, message = reply(session, b, b.manager.employee_number, code_a, at=timedelta(hours=1))
    assert not accepted and "Fel engångskod" in message


def one_watch(
    engine: Engine, a: Asked, barrier: threading.Barrier, errors: list[BaseException]
) -> None:
    """A pass of the watch in a transaction of its own, the moment the other starts too."""
    try:
        barrier.wait(10)
        with Session(engine) as session, session.begin():
            pass_of_the_watch(session, a, timedelta(days=14, minutes=1))
    except BaseException as exc:  # reported by the test
        errors.append(exc)


@pytest.mark.parametrize("rounds", [5])
def test_the_deadline_is_applied_once_when_two_watches_overlap(
    relay_db: Engine, vault: PersonnummerVault, rounds: int
) -> None:
    for _ in range(rounds):
        with Session(relay_db, expire_on_commit=False) as session, session.begin():
            a = asked(session, vault)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=one_watch, args=(relay_db, a, barrier, errors))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        with Session(relay_db) as session:
            assert ask_story(session, a).count("ask.expired") == 1
            assert order_story(session, a).count("onboarding.rejected") == 1
            order = session.get(OnboardingOrder, a.order.id)
            assert order is not None and order.status is OrderStatus.REJECTED
            decision_mails = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.business_key == f"onboarding-decision:{a.order.reference}"
                )
            ).all()
            assert len(decision_mails) == 1
