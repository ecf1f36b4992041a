"""approved: the manager is asked once, decides, and whoever ordered is told (§4, §4.2.4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models import onboarding_notices as notices
from models import onboarding_rules as rules
from models.audit import Actor, AuditRecord
from models.onboarding import OnboardingOrder, OrderStatus
from models.onboarding_forms import ApprovalDecision
from models.register import Employee
from tasks.onboarding.base import (
    Context,
    batch_lead,
    event,
    finding_dict,
    load_orders,
    of_municipality,
    paid_apps,
    queue,
)


@dataclass(frozen=True)
class ApprovalWait:
    """What the approval form is waiting for: its key and the text above it."""

    waiting: bool
    key: str
    description: str


def ask_for_approval(
    session: Session, ids: Sequence[int], *, ctx: Context, now: datetime
) -> ApprovalWait:
    """Tell the manager (once) and describe the decision to take; nothing to wait for if settled."""
    waiting = load_orders(session, ids, OrderStatus.AWAITING_APPROVAL)
    if not waiting:
        return ApprovalWait(False, "", "")
    of_municipality(ctx, waiting)
    lead = batch_lead(session, ids)
    new = [o for o in waiting if o.approval_requested_at is None]
    for order in new:
        order.approval_requested_at = now
    manager = waiting[0].approver
    if new:
        mail_approver(session, waiting, manager, ctx, now)
        audit.record_many(
            session,
            [
                event(
                    ctx,
                    o,
                    "approval_requested",
                    rule="§4",
                    reason="väntar på beslut av "
                    + (f"chef {manager.employee_number}" if manager else "utsedd ersättare"),
                )
                for o in new
            ],
        )
    return ApprovalWait(
        True,
        f"godkannande-{lead.approval_round}",
        notices.approval_form(waiting, municipality=ctx.municipality),
    )


def mail_approver(
    session: Session,
    orders: Sequence[OnboardingOrder],
    manager: Employee | None,
    ctx: Context,
    now: datetime,
    *,
    reminder: int = 0,
) -> None:
    """Ask the manager for the decision (`reminder` 0), or remind them."""
    lead = orders[0]
    notice = notices.approval_request(
        orders,
        manager,
        run_url=ctx.run_url(lead.flow_run_id),
        deadline=(lead.approval_requested_at or now) + ctx.deadline,
        tz=ctx.tz,
        reminder=reminder,
        municipality=ctx.municipality,
    )
    queue(session, ctx, notice)


@dataclass(frozen=True)
class DecisionOutcome:
    accepted: bool
    message: str


def decide(
    session: Session, ids: Sequence[int], decision: ApprovalDecision, *, ctx: Context, now: datetime
) -> DecisionOutcome:
    """Record the decision of the manager or a deputy; anyone else is refused and asked again.

    `decided_by` is an employee number of the orders' municipality, and the deputies are that
    municipality's: nobody of another municipality decides for its staff."""
    waiting = load_orders(session, ids, OrderStatus.AWAITING_APPROVAL)
    if not waiting:
        return DecisionOutcome(True, "redan avgjord")
    of_municipality(ctx, waiting)
    lead = batch_lead(session, ids)
    lead.approval_round += 1  # this wait is used up, whatever came of it
    who = decision.decided_by.strip()
    if not rules.may_decide([o.approver_number for o in waiting], who, ctx.deputies):
        return _refuse_decider(session, waiting, who, ctx)
    approved = decision.decision == "godkänn"
    for order in waiting:
        order.decided_by, order.decided_at = who, now
        order.decision_comment = decision.comment or None
    if approved:
        wanted = {name.strip(): True for name in decision.approved_apps}
        records = [_approve(order, wanted, who, decision.comment, ctx) for order in waiting]
    else:
        records = [_reject(order, who, decision.comment, ctx) for order in waiting]
    audit.record_many(session, records)
    tell_requester(session, waiting, ctx, approved=approved, by=who, comment=decision.comment)
    return DecisionOutcome(True, "godkänd" if approved else "avslagen")


def _refuse_decider(
    session: Session, waiting: Sequence[OnboardingOrder], who: str, ctx: Context
) -> DecisionOutcome:
    """Someone who may not decide: nothing is recorded but that they tried."""
    message = notices.not_allowed_to_decide(
        who,
        sorted({o.approver_number for o in waiting if o.approver_number}),
        sorted(ctx.deputies),
        municipality=ctx.municipality,
    )
    audit.record_many(
        session,
        [
            event(
                ctx,
                o,
                "decision_refused",
                actor=Actor.person(who or "okänd"),
                rule="§4",
                reason=message,
            )
            for o in waiting
        ],
    )
    return DecisionOutcome(False, message)


def _approve(
    order: OnboardingOrder, wanted: dict[str, bool], who: str, comment: str, ctx: Context
) -> AuditRecord:
    """Approved: only the paid apps the manager named are ordered (§4.2.4)."""
    kept, notes = rules.decide_apps(paid_apps(order), wanted)
    names = {a.name for a in kept}
    order.apps = [{**a, "approved": a["name"] in names} for a in order.apps]
    order.findings = [*order.findings, *(finding_dict(n) for n in notes)]
    order.status = OrderStatus.APPROVED
    return event(
        ctx,
        order,
        "approved",
        actor=Actor.person(who),
        rule="§4",
        reason=comment or "godkänd",
        after={
            "godkänd av": who,
            "godkända appar": sorted(names),
            "ej godkända appar": sorted(a["name"] for a in order.apps if not a["approved"]),
        },
    )


def _reject(order: OnboardingOrder, who: str, comment: str, ctx: Context) -> AuditRecord:
    order.status = OrderStatus.REJECTED
    return event(
        ctx,
        order,
        "rejected",
        actor=Actor.person(who),
        rule="§4",
        reason=comment or "avslagen",
    )


def tell_requester(
    session: Session,
    orders: Sequence[OnboardingOrder],
    ctx: Context,
    *,
    approved: bool,
    by: str,
    comment: str | None,
) -> None:
    """Whoever ordered (by employee number or user id, in the order's municipality) hears what
    was decided, and by whom."""
    lead = orders[0]
    requester = session.scalar(
        select(Employee)
        .where(
            Employee.municipality_id == lead.municipality_id,
            (Employee.employee_number == lead.requested_by)
            | (Employee.user_id == lead.requested_by),
        )
        .order_by(Employee.id)
        .limit(1)
    )
    notice = notices.decision(
        orders,
        requester,
        approved=approved,
        by=by,
        comment=comment,
        municipality=ctx.municipality,
    )
    queue(session, ctx, notice)
