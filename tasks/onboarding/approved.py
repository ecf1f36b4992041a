"""approved: the manager is asked once, decides, and whoever ordered is told (§4, §4.2.4).

The asking, reminding, escalating, deadline and proof of who answers are the mechanism of
people's steps (`tasks.people`); what is onboarding's own is `APPROVAL`, the kind of its ask:
the mail to the manager, who may decide, and what a decision or the deadline does to the
orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models import onboarding_notices as notices
from models import onboarding_rules as rules
from models.ask_notices import person
from models.asks import SYSTEM, Ask, AtDeadline, shown
from models.audit import Actor, AuditRecord
from models.notice import Notice
from models.onboarding import OBJECT_TYPE, OnboardingOrder, OrderStatus
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
from tasks.people import AskContext, Given, Purpose, answer, employee, open_ask

WATCH = Actor.system("reminders")


@dataclass(frozen=True)
class ApprovalWait:
    """What the approval form is waiting for: its key and the text above it."""

    waiting: bool
    key: str
    description: str


def ask_for_approval(
    session: Session, ids: Sequence[int], *, ctx: Context, now: datetime
) -> ApprovalWait:
    """Ask the manager (once, with a one-time code) and describe the decision to take; nothing
    to wait for if settled."""
    waiting = load_orders(session, ids, OrderStatus.AWAITING_APPROVAL)
    if not waiting:
        return ApprovalWait(False, "", "")
    of_municipality(ctx, waiting)
    lead = batch_lead(session, ids)
    new = [o for o in waiting if o.approval_requested_at is None]
    for order in new:
        order.approval_requested_at = now
    manager = waiting[0].approver

    def link(ask: Ask) -> None:
        for order in waiting:
            order.ask_id = ask.id
        session.flush()

    open_ask(
        session,
        kind=APPROVAL,
        object_type=OBJECT_TYPE,
        object_id=waiting[0].reference,
        title=_title(waiting),
        assignee=manager,
        flow_run_id=waiting[0].flow_run_id or ctx.flow_run_id,
        ctx=ctx.asking,
        now=now,
        link=link,
    )
    if new:
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


def _title(orders: Sequence[OnboardingOrder]) -> str:
    lead = orders[0]
    if len(orders) == 1:
        return f"Beslut om beställning {lead.reference} (telefon till {lead.employee.name})"
    batch = f" {lead.batch_key}" if lead.batch_key else ""
    return f"Beslut om samlad beställning{batch}, {lead.reference} m.fl. ({len(orders)} st)"


@dataclass(frozen=True)
class DecisionOutcome:
    accepted: bool
    message: str


def decide(
    session: Session,
    ids: Sequence[int],
    decision: ApprovalDecision,
    *,
    ctx: Context,
    now: datetime,
    in_run: bool = True,
) -> DecisionOutcome:
    """The decision of the manager, the manager's manager once asked, or a deputy, proved by
    their one-time code; anyone else, or a wrong code, is refused and asked again.
    `in_run`: the decision came through the waiting run's form (not from a terminal).

    `decided_by` is an employee number of the orders' municipality, and the deputies are that
    municipality's: nobody of another municipality decides for its staff."""
    waiting = load_orders(session, ids, OrderStatus.AWAITING_APPROVAL)
    if not waiting:
        if in_run:
            _woken(session, ids, ctx, now)
        return DecisionOutcome(True, "redan avgjord")
    of_municipality(ctx, waiting)
    if in_run:
        batch_lead(session, ids).approval_round += 1  # this wait is used up, whatever came of it
    ask_id = waiting[0].ask_id
    if ask_id is None:  # not asked yet (a decision sent before the run asked): ask first
        return DecisionOutcome(False, "Beställningen har inte gått till chefen än.")
    who = decision.decided_by.strip()
    given = Given(
        who=who,
        code=decision.code,
        answer=decision.decision,
        comment=decision.comment,
        data={"approved_apps": sorted({a.strip() for a in decision.approved_apps})},
    )
    outcome = answer(session, ask_id, given, kind=APPROVAL, ctx=ctx.asking, now=now)
    if in_run:
        _woken(session, ids, ctx, now)
    if not outcome.accepted:
        audit.record_many(
            session,
            [
                event(
                    ctx,
                    o,
                    "decision_refused",
                    actor=Actor.person(who or "okänd"),
                    rule="§4",
                    reason=outcome.message,
                )
                for o in waiting
            ],
        )
        return DecisionOutcome(False, outcome.message)
    return DecisionOutcome(True, "godkänd" if decision.decision == "godkänn" else "avslagen")


def _woken(session: Session, ids: Sequence[int], ctx: Context, now: datetime) -> None:
    """The run that waited is awake: the watch need not wake it for these orders' asks."""
    if ctx.flow_run_id is None:
        return
    for ask in session.scalars(
        select(Ask).where(
            Ask.id.in_(select(OnboardingOrder.ask_id).where(OnboardingOrder.id.in_(ids))),
            Ask.flow_run_id == ctx.flow_run_id,
            Ask.woken_at.is_(None),
        )
    ):
        ask.woken_at = now


class Approval:
    """The kind of onboarding's ask: the manager's decision on an order, or a batch (§4)."""

    name = "onboarding_approval"
    rule = "§4"
    at_deadline = AtDeadline.REJECT
    answers: Mapping[str, str] = MappingProxyType({"godkänn": "godkänd", "avslå": "avslagen"})
    deadline_answer = "avslå"

    def notice(
        self,
        session: Session,
        ask: Ask,
        to: Employee,
        *,
        purpose: Purpose,
        code: str | None,
        ctx: AskContext,
    ) -> Notice | None:
        orders = _orders_of(session, ask)
        return notices.approval_request(
            orders,
            to,
            run_url=ctx.run_url(ask.flow_run_id),
            deadline=ask.due_at,
            tz=ctx.tz,
            reminder=ask.reminders_sent if purpose is Purpose.REMIND else 0,
            municipality=ctx.municipality,
            code=shown(code) if code else None,
            escalated_from=ask.assignee if purpose is Purpose.ESCALATE else None,
        )

    def not_allowed(self, ask: Ask, who: str, ctx: AskContext) -> str:
        return notices.not_allowed_to_decide(
            who,
            [ask.assignee.employee_number] if ask.assignee else [],
            sorted(ctx.deputies),
            municipality=ctx.municipality,
            above=[ask.escalated_to.employee_number] if ask.escalated_to else [],
        )

    def answered(self, session: Session, ask: Ask, ctx: AskContext, now: datetime) -> None:
        """The decision, on every order of the ask still waiting (only the paid apps the
        manager named are ordered, §4.2.4); whoever ordered is told."""
        waiting = _orders_of(session, ask, OrderStatus.AWAITING_APPROVAL)
        if not waiting:
            return
        octx = _order_context(ctx)
        who, comment = str(ask.answered_by), ask.comment or ""
        approved = ask.answer == "godkänn"
        for order in waiting:
            order.decided_by, order.decided_at = who, now
            order.decision_comment = comment or None
        if approved:
            wanted = {name: True for name in ask.answer_data.get("approved_apps", [])}
            records = [_approve(order, wanted, who, comment, octx) for order in waiting]
        else:
            records = [_reject(order, who, comment, octx) for order in waiting]
        audit.record_many(session, records)
        by = person(employee(session, ctx, who), who)  # "Maja Berg (E12)", as people read it
        tell_requester(session, waiting, octx, approved=approved, by=by, comment=comment)

    def expired(self, session: Session, ask: Ask, ctx: AskContext, now: datetime) -> None:
        """Nobody decided in time: rejected (§4), and whoever ordered is told."""
        waiting = _orders_of(session, ask, OrderStatus.AWAITING_APPROVAL)
        if not waiting:
            return
        octx = _order_context(ctx)
        days = (ask.due_at - ask.asked_at) / timedelta(days=1)
        reason = f"automatiskt avslag: ingen beslutade inom {days:g} dagar"
        for order in waiting:
            order.status = OrderStatus.REJECTED
            order.decided_by, order.decided_at, order.decision_comment = SYSTEM, now, reason
        audit.record_many(
            session,
            [event(octx, o, "rejected", actor=WATCH, rule="§4", reason=reason) for o in waiting],
        )
        tell_requester(
            session,
            waiting,
            octx,
            approved=False,
            by="systemet (tidsfristen passerade)",
            comment=reason,
        )

    def wake_input(self, ask: Ask) -> dict[str, object]:
        return {
            "decision": ask.answer or "avslå",
            "decided_by": ask.answered_by or SYSTEM,
            "approved_apps": list(ask.answer_data.get("approved_apps", [])),
            "comment": ask.comment or "",
            "code": "",
        }


APPROVAL = Approval()


def _orders_of(session: Session, ask: Ask, *statuses: OrderStatus) -> list[OnboardingOrder]:
    ids = list(session.scalars(select(OnboardingOrder.id).where(OnboardingOrder.ask_id == ask.id)))
    return load_orders(session, ids, *statuses) if ids else []


def _order_context(ctx: AskContext) -> Context:
    """The orders' surroundings, as far as a decision needs them (its sender, its actor)."""
    return Context(
        sender=ctx.sender,
        contact_centre_email="",
        municipality=ctx.municipality,
        ui_url=ctx.ui_url,
        municipality_id=ctx.municipality_id,
        deputies=ctx.deputies,
        flow_run_id=ctx.flow_run_id,
        tz=ctx.tz,
    )


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
