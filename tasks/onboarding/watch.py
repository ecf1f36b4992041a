"""The watch: reminders and the deadline for waiting decisions, deliveries for waiting runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models.audit import Actor
from models.onboarding import OnboardingOrder, OrderStatus
from tasks.onboarding.approved import mail_approver, tell_requester
from tasks.onboarding.base import Context, event
from tasks.onboarding.delivered import collect_deliveries
from tasks.operator import OperatorGateway

WATCH = Actor.system("onboarding-watch")


@dataclass(frozen=True)
class Resume:
    """A waiting run to resume, and the input that wakes it (its form's shape)."""

    flow_run_id: str
    run_input: dict[str, Any]


def _municipality_id(ctx: Context) -> int:
    if ctx.municipality_id is None:
        raise ValueError("the watch looks at one municipality's orders at a time; name it")
    return ctx.municipality_id


def _waiting_by_run(session: Session, municipality_id: int) -> list[list[OnboardingOrder]]:
    """The municipality's orders waiting for a decision the manager was asked for, by run."""
    by_run: dict[str, list[OnboardingOrder]] = {}
    for order in session.scalars(
        select(OnboardingOrder)
        .where(
            OnboardingOrder.municipality_id == municipality_id,
            OnboardingOrder.status == OrderStatus.AWAITING_APPROVAL,
            OnboardingOrder.approval_requested_at.is_not(None),
        )
        .order_by(OnboardingOrder.id)
    ):
        by_run.setdefault(order.flow_run_id or f"order-{order.id}", []).append(order)
    return list(by_run.values())


def watch_approvals(session: Session, *, ctx: Context, now: datetime) -> list[Resume]:
    """Remind the approvers of the context's municipality who have not decided, at its interval;
    reject what has waited past its deadline."""
    resumes = []
    for orders in _waiting_by_run(session, _municipality_id(ctx)):
        lead = orders[0]
        asked = lead.approval_requested_at
        assert asked is not None
        if now >= asked + ctx.deadline:
            resume = _reject_at_deadline(session, orders, ctx, now)
            if resume is not None:
                resumes.append(resume)
        elif now >= asked + ctx.remind_every * (lead.reminders_sent + 1):
            _remind(session, orders, ctx, now)
    return resumes


def _reject_at_deadline(
    session: Session, orders: Sequence[OnboardingOrder], ctx: Context, now: datetime
) -> Resume | None:
    """Nobody decided in time: rejected (§4); the run, if any, is woken with that answer."""
    days = ctx.deadline / timedelta(days=1)
    reason = f"automatiskt avslag: ingen beslutade inom {days:g} dagar"
    for order in orders:
        order.status = OrderStatus.REJECTED
        order.decided_by, order.decided_at, order.decision_comment = "system", now, reason
    audit.record_many(
        session,
        [event(ctx, o, "rejected", actor=WATCH, rule="§4", reason=reason) for o in orders],
    )
    tell_requester(
        session, orders, ctx, approved=False, by="systemet (tidsfristen passerade)", comment=reason
    )
    run_id = orders[0].flow_run_id
    if not run_id:
        return None
    answer = {"decision": "avslå", "decided_by": "system", "approved_apps": [], "comment": reason}
    return Resume(run_id, answer)


def _remind(
    session: Session, orders: Sequence[OnboardingOrder], ctx: Context, now: datetime
) -> None:
    lead = orders[0]
    lead.reminders_sent += 1
    mail_approver(session, orders, lead.approver, ctx, now, reminder=lead.reminders_sent)
    reason = f"påminnelse {lead.reminders_sent} till beslutsfattaren"
    audit.record_many(
        session,
        [event(ctx, o, "reminded", actor=WATCH, rule="§4", reason=reason) for o in orders],
    )


def watch_deliveries(session: Session, gateway: OperatorGateway, *, ctx: Context) -> list[Resume]:
    """Deliveries the operator reports for the municipality's waiting runs (`gateway`: its
    own); runs with nothing left are woken."""
    mine = OnboardingOrder.municipality_id == _municipality_id(ctx)
    runs = session.scalars(
        select(OnboardingOrder.flow_run_id)
        .where(
            mine,
            OnboardingOrder.status == OrderStatus.ORDERED,
            OnboardingOrder.flow_run_id.is_not(None),
        )
        .distinct()
    ).all()
    resumes = []
    for run_id in runs:
        ids = list(
            session.scalars(
                select(OnboardingOrder.id).where(mine, OnboardingOrder.flow_run_id == run_id)
            )
        )
        if not collect_deliveries(session, ids, gateway, ctx=ctx).waiting and run_id:
            resumes.append(Resume(run_id, {}))
    return resumes
