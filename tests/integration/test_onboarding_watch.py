"""The reminders watch on an order waiting for its manager: reminded at the interval, then
rejected at the deadline, and the run woken with that answer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.asks import Ask
from models.audit import history
from models.base import utcnow
from models.onboarding import OBJECT_TYPE, OnboardingOrder, OrderStatus
from models.outbox import OutboxMessage
from models.personnummer import PersonnummerVault
from tasks.kinds import KINDS
from tasks.onboarding import Context, ask_for_approval
from tasks.people import Wake, to_wake, watch, woken
from tests import factories
from tests.integration.test_onboarding_ordering import home_ctx


def waiting_order(session: Session, vault: PersonnummerVault) -> OnboardingOrder:
    wp = factories.workplace(session, vault, staff=1)
    return factories.onboarding_order(
        session,
        wp,
        wp.staff[0],
        status=OrderStatus.AWAITING_APPROVAL,
        decided_by=None,
        flow_run_id="5b1f7c4e-0000-4000-8000-000000000001",
    )


def approval_mails(session: Session, order: OnboardingOrder) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.business_key.like(f"onboarding-approval:{order.reference}:%"))
            .order_by(OutboxMessage.id)
        )
    )


def watch_approvals(session: Session, *, ctx: Context, now: object) -> list[Wake]:
    """One pass of the reminders watch over the municipality; the runs it would wake."""
    watch(session, kinds=KINDS, ctx=ctx.asking, now=now)  # type: ignore[arg-type]
    wakes = to_wake(session, kinds=KINDS, municipality_id=ctx.asking.municipality_id)
    woken(session, [w.ask_id for w in wakes], now)  # type: ignore[arg-type]
    return wakes


def test_the_approver_is_reminded_then_the_order_rejected_at_the_deadline(
    session: Session, vault: PersonnummerVault
) -> None:
    order = waiting_order(session, vault)
    ctx = home_ctx(session)
    asked = utcnow()
    ask_for_approval(session, [order.id], ctx=ctx, now=asked)
    assert len(approval_mails(session, order)) == 1

    assert watch_approvals(session, ctx=ctx, now=asked + timedelta(hours=47)) == []
    assert len(approval_mails(session, order)) == 1  # not due yet

    assert watch_approvals(session, ctx=ctx, now=asked + timedelta(hours=49)) == []
    reminders = approval_mails(session, order)
    assert len(reminders) == 2 and reminders[1].subject.startswith("Påminnelse")
    watch_approvals(session, ctx=ctx, now=asked + timedelta(hours=50))
    assert len(approval_mails(session, order)) == 2  # one reminder per interval

    (resume,) = watch_approvals(session, ctx=ctx, now=asked + timedelta(days=14, minutes=1))
    assert resume.flow_run_id == order.flow_run_id
    assert resume.run_input["decision"] == "avslå"
    assert order.status is OrderStatus.REJECTED and order.decided_by == "system"
    actions = [
        e.action for e in history(session, object_type=OBJECT_TYPE, object_id=order.reference)
    ]
    assert actions == ["onboarding.approval_requested", "onboarding.rejected"]
    ask = session.get(Ask, order.ask_id)
    assert ask is not None
    assert [e.action for e in history(session, object_type="ask", object_id=ask.reference)] == [
        "ask.opened",
        "ask.reminded",
        "ask.expired",
    ]
    assert watch_approvals(session, ctx=ctx, now=asked + timedelta(days=15)) == []
