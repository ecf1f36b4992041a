"""The onboarding order's steps (§4, §6.1), each a plain function over a session, batch-wide.

Every step reads the orders' `status` and does only what is left, so a retried task, a
re-run flow or a flow resumed after a suspension passes safely over what is done. Audit
events and e-mails are written in the same transaction as the change they describe; the
audit trail of an order reads as its story: requested → checked → approved → ordered →
delivered → registered → notified.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from models import audit
from models.audit import Actor, AuditRecord
from models.base import utcnow
from models.onboarding import (
    OBJECT_TYPE,
    STATUS_SV,
    OnboardingOrder,
    OrderStatus,
    content_key,
)
from models.onboarding_forms import DEVIATION_TEXT, ApprovalDecision, DeliveryInput, OrderRequest
from models.onboarding_rules import (
    Finding,
    ModelFacts,
    OptionFacts,
    OrderFacts,
    PaidApp,
    Severity,
    check,
    decide_apps,
)
from models.ordering import Delivery, OperatorOrder
from models.outbox import Sender, enqueue
from models.register import (
    Accessory,
    AccessoryKind,
    Device,
    DeviceStatus,
    DirectoryEntry,
    Employee,
    PhoneModel,
    Subscription,
    SubscriptionKind,
    SubscriptionOption,
    SubscriptionStatus,
)
from tasks.operator import (
    OperatorGateway,
    OperatorRefusedError,
    OperatorTransientError,
    gateway_from,
    retry_on_transient,
)
from telefoni.core.settings import Settings

log = logging.getLogger(__name__)


STOCKHOLM = ZoneInfo("Europe/Stockholm")


class UnknownEmployee(ValueError):
    """An order names an employee number the register does not know."""


class RequestRace(RuntimeError):
    """Another run stored the same request at the same moment; a retry finds its order."""


@dataclass(frozen=True)
class Context:
    """What the steps need to know about their surroundings."""

    sender: Sender
    contact_centre_email: str
    municipality: str
    ui_url: str
    deputies: frozenset[str] = frozenset()
    deadline: timedelta = timedelta(days=14)
    remind_every: timedelta = timedelta(hours=48)
    flow_run_id: str | None = None
    tz: ZoneInfo = STOCKHOLM  # how times are shown to people

    @property
    def actor(self) -> Actor:
        return Actor.flow_run(self.flow_run_id) if self.flow_run_id else Actor.system("onboarding")

    def run_url(self, flow_run_id: str | None = None) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/flow-run/{flow_run_id or self.flow_run_id}"


def _orders(
    session: Session, ids: Sequence[int], *statuses: OrderStatus, lock: bool = False
) -> list[OnboardingOrder]:
    stmt = (
        select(OnboardingOrder)
        .where(OnboardingOrder.id.in_(ids))
        .order_by(OnboardingOrder.id)
        .options(
            selectinload(OnboardingOrder.employee).selectinload(Employee.unit),
            selectinload(OnboardingOrder.employee).selectinload(Employee.cost_centre),
            selectinload(OnboardingOrder.approver),
            selectinload(OnboardingOrder.subscription_option),
        )
    )
    if statuses:
        stmt = stmt.where(OnboardingOrder.status.in_(statuses))
    if lock:
        stmt = stmt.with_for_update(of=OnboardingOrder)
    return list(session.scalars(stmt))


def _lead(session: Session, ids: Sequence[int]) -> OnboardingOrder:
    """The batch's first order: it keeps the batch's wait counters."""
    lead = session.get(OnboardingOrder, min(ids), with_for_update=True)
    assert lead is not None
    return lead


def _event(
    ctx: Context,
    order: OnboardingOrder,
    action: str,
    *,
    actor: Actor | None = None,
    reason: str | None = None,
    rule: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    return AuditRecord(
        actor=actor or ctx.actor,
        action=f"onboarding.{action}",
        object_type=OBJECT_TYPE,
        object_id=order.reference,
        before=before,
        after=after,
        reason=reason,
        rule=rule,
        flow_run_id=ctx.flow_run_id,
    )


# --- requested ---------------------------------------------------------------------------------


def _order_fields(request: OrderRequest) -> dict[str, Any]:
    return {
        "need_category": request.need_category,
        "phone_model_name": request.phone_model,
        "deviation_reason": request.deviation,
        "deviation_note": request.deviation_note,
        "headset": request.headset,
        "subscription_option_code": request.subscription_option,
        "data": request.data,
        "referral": request.referral,
        "apps": [
            {
                "name": a.name,
                "monthly_cost_sek": str(a.monthly_cost_sek),
                "why": a.why,
                "approved": None,
            }
            for a in request.apps
        ],
        "replacement": request.replacement,
        "requested_by": request.requested_by,
        "wanted_by": request.wanted_by,
    }


def receive(
    session: Session, requests: Sequence[OrderRequest], *, batch_key: str | None, ctx: Context
) -> list[int]:
    """One order row per request; the same request again gives the same order (not a second)."""
    numbers = [r.employee_number for r in requests]
    employees = {
        number: id_
        for number, id_ in session.execute(
            select(Employee.employee_number, Employee.id).where(
                Employee.employee_number.in_(numbers)
            )
        )
    }
    unknown = sorted({n for n in numbers if n not in employees})
    if unknown:
        listed = ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")
        raise UnknownEmployee(f"anställningsnummer finns inte i registret: {listed}")
    keys = [content_key({**r.model_dump(mode="json"), "batch": batch_key}) for r in requests]
    known: dict[str, list[OnboardingOrder]] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), 500):
        for order in session.scalars(
            select(OnboardingOrder).where(
                OnboardingOrder.request_key.in_(unique[start : start + 500])
            )
        ):
            known.setdefault(order.request_key, []).append(order)
    orders, new = [], []
    for request, key in zip(requests, keys, strict=True):
        earlier = sorted(known.get(key, []), key=lambda o: o.request_attempt)
        if earlier and earlier[-1].status not in (OrderStatus.REFUSED, OrderStatus.REJECTED):
            orders.append(earlier[-1])
            continue
        order = OnboardingOrder(
            request_key=key,
            request_attempt=earlier[-1].request_attempt + 1 if earlier else 0,
            batch_key=batch_key,
            employee_id=employees[request.employee_number],
            flow_run_id=ctx.flow_run_id,
            **_order_fields(request),
        )
        known.setdefault(key, []).append(order)
        orders.append(order)
        new.append((order, request))
    try:
        with session.begin_nested():
            session.add_all([order for order, _ in new])
            session.flush()
    except IntegrityError:  # the same request, at the same moment, from another run
        raise RequestRace("samma beställning togs emot samtidigt av en annan körning") from None
    audit.record_many(
        session,
        [
            _event(
                ctx,
                order,
                "requested",
                actor=Actor.person(request.requested_by),
                rule="§4",
                reason="beställning av telefon och abonnemang",
                after=order_summary(order, request.employee_number),
            )
            for order, request in new
        ],
    )
    return [order.id for order in orders]


def order_summary(order: OnboardingOrder, employee_number: str) -> dict[str, Any]:
    """The order's content for the audit trail and the e-mails (no personal identity)."""
    return {
        "anställd": employee_number,
        "behovskategori": order.need_category,
        "modell": order.phone_model_name,
        "avvikelse": DEVIATION_TEXT.get(order.deviation_reason) if order.deviation_reason else None,
        "headset": order.headset,
        "abonnemang": order.subscription_option_code,
        "data": order.data,
        "hänvisning": order.referral,
        "appar": [a["name"] for a in order.apps],
        "ersättning": order.replacement,
        "önskat datum": order.wanted_by.isoformat() if order.wanted_by else None,
    }


def adopt(
    session: Session, ids: Sequence[int], run_id: str | None, alive: Callable[[str], bool]
) -> list[str]:
    """Take over open orders whose run has ended (a crash, a cancel); name the runs still at it.

    The same request started twice finds the same orders: the second run must neither order
    them again nor wait beside the first.
    """
    busy = []
    for order in _orders(session, ids):
        if order.status.closed or order.flow_run_id in (None, run_id):
            continue
        if alive(str(order.flow_run_id)):
            busy.append(str(order.flow_run_id))
        else:
            order.flow_run_id = run_id
    return sorted(set(busy))


# --- checked -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Catalogue:
    models: dict[str, PhoneModel]  # by casefolded name
    options: dict[str, SubscriptionOption]  # by casefolded code

    @classmethod
    def read(cls, session: Session) -> _Catalogue:
        return cls(
            {m.name.casefold(): m for m in session.scalars(select(PhoneModel))},
            {o.code.casefold(): o for o in session.scalars(select(SubscriptionOption))},
        )


def _facts(
    order: OnboardingOrder,
    catalogue: _Catalogue,
    *,
    holds: bool,
    deputies: frozenset[str],
    today: date,
) -> OrderFacts:
    model = catalogue.models.get(order.phone_model_name.casefold())
    option = catalogue.options.get(order.subscription_option_code.casefold())
    order.phone_model_id = model.id if model else None
    order.subscription_option_id = option.id if option else None
    employee = order.employee
    ended = employee.left_at is not None or (
        employee.employment_end is not None and employee.employment_end < today
    )
    return OrderFacts(
        need_category=order.need_category,
        model=ModelFacts(
            name=model.name,
            is_standard=model.is_standard,
            is_smartphone=model.is_smartphone,
            includes_headset=model.includes_headset,
            available=model.available,
        )
        if model
        else None,
        option=OptionFacts(option.code, option.includes_data, option.available) if option else None,
        deviation_reason=order.deviation_reason.value if order.deviation_reason else None,
        headset=order.headset,
        data=order.data,
        referral=order.referral,
        apps=_paid_apps(order),
        replacement=order.replacement,
        holds_active_personal_subscription=holds,
        employee_active=not ended,
        has_approver=employee.manager_id is not None or bool(deputies),
        registered_category=employee.need_category,
        catalogue=tuple(sorted(m.name for m in catalogue.models.values() if m.available)),
        offered_options=tuple(sorted(o.code for o in catalogue.options.values() if o.available)),
    )


def _holders(session: Session, employee_ids: Sequence[int]) -> set[int]:
    """Who among these already holds an active personal subscription."""
    found: set[int] = set()
    for start in range(0, len(employee_ids), 500):
        found.update(
            owner
            for owner in session.scalars(
                select(Subscription.owner_id)
                .where(
                    Subscription.owner_id.in_(employee_ids[start : start + 500]),
                    Subscription.kind == SubscriptionKind.PERSONAL,
                    Subscription.status == SubscriptionStatus.ACTIVE,
                )
                .distinct()
            )
            if owner is not None
        )
    return found


def _paid_apps(order: OnboardingOrder) -> tuple[PaidApp, ...]:
    return tuple(PaidApp(a["name"], Decimal(a["monthly_cost_sek"]), a["why"]) for a in order.apps)


def _finding_dict(f: Finding) -> dict[str, str]:
    return {"rule": f.rule, "severity": f.severity.value, "message": f.message}


def check_orders(session: Session, ids: Sequence[int], *, ctx: Context, today: date) -> None:
    """Hold each new order against the guideline; refused ones never reach the manager."""
    records = []
    orders = _orders(session, ids, OrderStatus.REQUESTED)
    lead_manager = _orders(session, [min(ids)])[0].employee.manager_id
    catalogue = _Catalogue.read(session)
    holders = _holders(session, sorted({o.employee_id for o in orders}))
    for order in orders:
        facts = _facts(
            order,
            catalogue,
            holds=order.employee_id in holders,
            deputies=ctx.deputies,
            today=today,
        )
        verdict = check(facts)
        findings = list(verdict.findings)
        if order.employee.manager_id != lead_manager:
            findings.insert(
                0,
                Finding(
                    "§4",
                    Severity.REFUSAL,
                    "den anställda har en annan chef än de övriga i den samlade beställningen; "
                    "beställ i en egen",
                ),
            )
        order.findings = [_finding_dict(f) for f in findings]
        refusals = [f for f in findings if f.severity is Severity.REFUSAL]
        records.append(
            _event(
                ctx,
                order,
                "checked",
                rule="§4",
                reason="kontrollerad mot riktlinjerna",
                after={
                    "avvisningar": [str(f) for f in refusals],
                    "varningar": [str(f) for f in findings if f.severity is Severity.WARNING],
                    "anteckningar": [str(f) for f in findings if f.severity is Severity.NOTE],
                },
            )
        )
        if refusals:
            order.status = OrderStatus.REFUSED
            records.append(
                _event(
                    ctx,
                    order,
                    "refused",
                    rule=refusals[0].rule,
                    reason="; ".join(str(f) for f in refusals),
                )
            )
        else:
            order.status = OrderStatus.AWAITING_APPROVAL
            order.approver_id = order.employee.manager_id
    audit.record_many(session, records)


# --- approved ----------------------------------------------------------------------------------


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
    waiting = _orders(session, ids, OrderStatus.AWAITING_APPROVAL)
    if not waiting:
        return ApprovalWait(False, "", "")
    lead = _lead(session, ids)
    new = [o for o in waiting if o.approval_requested_at is None]
    for order in new:
        order.approval_requested_at = now
    manager = waiting[0].approver
    if new:
        _mail_approver(session, waiting, manager, ctx, now)
        audit.record_many(
            session,
            [
                _event(
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
    return ApprovalWait(True, f"godkannande-{lead.approval_round}", approval_text(waiting))


def approval_text(orders: Sequence[OnboardingOrder]) -> str:
    """Markdown above the approval form: what is asked for, warnings, apps to decide on."""
    count = len(orders)
    lines = [
        f"## {'Beställning' if count == 1 else f'Samlad beställning, {count} st'} av telefon"
        " och abonnemang",
        "",
        "| referens | anställd | kategori | modell | abonnemang | headset | appar |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in orders[:200]:
        apps = ", ".join(f"{a['name']} ({a['monthly_cost_sek']} kr/mån)" for a in o.apps) or "–"
        lines.append(
            f"| {o.reference} | {o.employee.name} ({o.employee.employee_number}) | "
            f"{o.need_category} | {o.phone_model_name} | {o.subscription_option_code} | "
            f"{'ja' if o.headset else 'nej'} | {apps} |"
        )
    if count > 200:
        lines.append(f"| … | och {count - 200} till | | | | | |")
    warnings = sorted(
        {
            f"{f['rule']}: {f['message']}"
            for o in orders
            for f in o.findings
            if f["severity"] == "warning"
        }
    )
    if warnings:
        lines += ["", "### Att tänka på", *[f"- {w}" for w in warnings]]
    lines += [
        "",
        "Godkänn eller avslå nedan och ange ditt anställningsnummer. Betalda appar beställs bara "
        "om du skriver in dem som godkända (§4.2.4).",
    ]
    return "\n".join(lines)


def _mail_approver(
    session: Session,
    orders: Sequence[OnboardingOrder],
    manager: Employee | None,
    ctx: Context,
    now: datetime,
    *,
    reminder: int = 0,
) -> None:
    lead = orders[0]
    count = len(orders)
    who = lead.employee.name if count == 1 else f"{count} anställda"
    deadline = (lead.approval_requested_at or now) + ctx.deadline
    paragraphs = [
        ("Påminnelse: " if reminder else "")
        + f"En beställning av telefon och abonnemang för {who} väntar på ditt beslut "
        f"(referens {lead.reference}).",
        f"Öppna beställningen och besluta här: {ctx.run_url(lead.flow_run_id)}",
        "Du kan också besluta i en terminal: telefoni approve "
        f"{lead.flow_run_id} --approve (eller --reject) --as DITT-ANSTÄLLNINGSNUMMER "
        '--comment "..."',
        f"Om ingen beslutar senast {deadline.astimezone(ctx.tz).strftime('%Y-%m-%d %H:%M')} "
        "avslås beställningen automatiskt.",
    ]
    if not manager or not manager.email:
        return
    enqueue(
        session,
        template="meddelande",
        business_key=f"onboarding-approval:{lead.reference}:{reminder}",
        recipient=manager.email,
        sender=ctx.sender,
        context={
            "subject": ("Påminnelse: " if reminder else "")
            + f"Beställning att godkänna: {lead.reference}",
            "name": manager.first_name,
            "paragraphs": paragraphs,
            "municipality": ctx.municipality,
        },
    )


@dataclass(frozen=True)
class DecisionOutcome:
    accepted: bool
    message: str


def may_decide(
    waiting: Sequence[OnboardingOrder], decided_by: str, deputies: frozenset[str]
) -> bool:
    """Only the employees' manager or a configured deputy decides on the waiting orders."""
    if decided_by.strip() in deputies:
        return True
    return bool(waiting) and all(
        o.approver is not None and o.approver.employee_number == decided_by.strip() for o in waiting
    )


def decide(
    session: Session, ids: Sequence[int], decision: ApprovalDecision, *, ctx: Context, now: datetime
) -> DecisionOutcome:
    """Record the decision of the manager or a deputy; anyone else is refused and asked again."""
    waiting = _orders(session, ids, OrderStatus.AWAITING_APPROVAL)
    if not waiting:
        return DecisionOutcome(True, "redan avgjord")
    lead = _lead(session, ids)
    lead.approval_round += 1  # this wait is used up, whatever came of it
    who = decision.decided_by.strip()
    if not may_decide(waiting, who, ctx.deputies):
        manager = waiting[0].approver
        message = (
            f"{who or 'Ingen'} får inte besluta om beställningen: bara chefen "
            f"({manager.employee_number if manager else 'saknas'}) eller en utsedd ersättare "
            "kan göra det. Beslutet registrerades inte."
        )
        audit.record_many(
            session,
            [
                _event(
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
    approved = decision.decision == "godkänn"
    records = []
    for order in waiting:
        order.decided_by, order.decided_at = who, now
        order.decision_comment = decision.comment or None
        if approved:
            kept, notes = decide_apps(
                _paid_apps(order), {n.strip(): True for n in decision.approved_apps}
            )
            names = {a.name for a in kept}
            order.apps = [{**a, "approved": a["name"] in names} for a in order.apps]
            order.findings = [*order.findings, *(_finding_dict(n) for n in notes)]
            order.status = OrderStatus.APPROVED
            records.append(
                _event(
                    ctx,
                    order,
                    "approved",
                    actor=Actor.person(who),
                    rule="§4",
                    reason=decision.comment or "godkänd",
                    after={
                        "godkänd av": who,
                        "godkända appar": sorted(names),
                        "ej godkända appar": sorted(
                            a["name"] for a in order.apps if not a["approved"]
                        ),
                    },
                )
            )
        else:
            order.status = OrderStatus.REJECTED
            records.append(
                _event(
                    ctx,
                    order,
                    "rejected",
                    actor=Actor.person(who),
                    rule="§4",
                    reason=decision.comment or "avslagen",
                )
            )
    audit.record_many(session, records)
    _tell_requester(session, waiting, ctx, approved=approved, by=who, comment=decision.comment)
    return DecisionOutcome(True, "godkänd" if approved else "avslagen")


def _tell_requester(
    session: Session,
    orders: Sequence[OnboardingOrder],
    ctx: Context,
    *,
    approved: bool,
    by: str,
    comment: str | None,
) -> None:
    lead = orders[0]
    requester = session.scalar(
        select(Employee).where(
            (Employee.employee_number == lead.requested_by)
            | (Employee.user_id == lead.requested_by)
        )
    )
    if requester is None or not requester.email:
        return
    verdict = "godkändes" if approved else "avslogs"
    paragraphs = [
        f"Beställningen {lead.reference}"
        + (f" och {len(orders) - 1} till" if len(orders) > 1 else "")
        + f" {verdict} av {by}.",
    ]
    if comment:
        paragraphs.append(f"Kommentar: {comment}")
    if approved:
        paragraphs.append("Beställningen går nu till den anvisade beställningsfunktionen (§6.1).")
    enqueue(
        session,
        template="meddelande",
        business_key=f"onboarding-decision:{lead.reference}",
        recipient=requester.email,
        sender=ctx.sender,
        context={
            "subject": f"Beställning {lead.reference} {verdict}",
            "name": requester.first_name,
            "paragraphs": paragraphs,
            "municipality": ctx.municipality,
        },
    )


# --- the watch: reminders and deadlines ------------------------------------------------------


@dataclass(frozen=True)
class Resume:
    """A waiting run to resume, and the input that wakes it (its form's shape)."""

    flow_run_id: str
    run_input: dict[str, Any]


def watch_approvals(session: Session, *, ctx: Context, now: datetime) -> list[Resume]:
    """Remind approvers who have not decided; reject what has waited past the deadline."""
    waiting = list(
        session.scalars(
            select(OnboardingOrder)
            .where(
                OnboardingOrder.status == OrderStatus.AWAITING_APPROVAL,
                OnboardingOrder.approval_requested_at.is_not(None),
            )
            .order_by(OnboardingOrder.id)
        )
    )
    by_run: dict[str, list[OnboardingOrder]] = {}
    for order in waiting:
        by_run.setdefault(order.flow_run_id or f"order-{order.id}", []).append(order)
    resumes = []
    for orders in by_run.values():
        lead = orders[0]
        asked = lead.approval_requested_at
        assert asked is not None
        if now >= asked + ctx.deadline:
            days = ctx.deadline / timedelta(days=1)
            reason = f"automatiskt avslag: ingen beslutade inom {days:g} dagar"
            for order in orders:
                order.status = OrderStatus.REJECTED
                order.decided_by, order.decided_at, order.decision_comment = "system", now, reason
            audit.record_many(
                session,
                [
                    _event(
                        ctx,
                        o,
                        "rejected",
                        actor=Actor.system("onboarding-watch"),
                        rule="§4",
                        reason=reason,
                    )
                    for o in orders
                ],
            )
            _tell_requester(
                session,
                orders,
                ctx,
                approved=False,
                by="systemet (tidsfristen passerade)",
                comment=reason,
            )
            if lead.flow_run_id:
                resumes.append(
                    Resume(
                        lead.flow_run_id,
                        {
                            "decision": "avslå",
                            "decided_by": "system",
                            "approved_apps": [],
                            "comment": reason,
                        },
                    )
                )
        elif now >= asked + ctx.remind_every * (lead.reminders_sent + 1):
            lead.reminders_sent += 1
            _mail_approver(session, orders, lead.approver, ctx, now, reminder=lead.reminders_sent)
            audit.record_many(
                session,
                [
                    _event(
                        ctx,
                        o,
                        "reminded",
                        actor=Actor.system("onboarding-watch"),
                        rule="§4",
                        reason=f"påminnelse {lead.reminders_sent} till beslutsfattaren",
                    )
                    for o in orders
                ],
            )
    return resumes


# --- ordered -----------------------------------------------------------------------------------


def operator_order(order: OnboardingOrder) -> OperatorOrder:
    e = order.employee
    return OperatorOrder(
        idempotency_key=order.operator_key or f"telefoni-onboarding-{order.id}",
        reference=order.reference,
        employee_number=e.employee_number,
        employee_name=e.name,
        email=e.email,
        unit=e.unit.name,
        cost_centre=e.cost_centre.code,
        need_category=order.need_category,
        phone_model=order.phone_model_name,
        deviation_reason=DEVIATION_TEXT.get(order.deviation_reason)
        if order.deviation_reason
        else None,
        headset=order.headset,
        subscription_option=order.subscription_option_code,
        subscription_name=order.subscription_option.name
        if order.subscription_option
        else order.subscription_option_code,
        data=order.data
        or bool(order.subscription_option and order.subscription_option.includes_data),
        referral=True,
        referral_calendar=True,
        apps=tuple(a["name"] for a in order.apps if a.get("approved")),
        wanted_by=order.wanted_by,
        requested_by=order.requested_by,
        approved_by=order.decided_by or "",
        replacement=order.replacement,
    )


def place_orders(
    engine: Engine,
    ids: Sequence[int],
    gateway: OperatorGateway,
    *,
    ctx: Context,
    attempts: int = 5,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send every approved order to the ordering function once (§6.1); returns how many were sent.

    The operator key is committed before the order leaves; an order found with a key but not
    recorded as sent (a crash in between) is first looked up at the operator, and sent again
    with the same key only if the operator does not know it.
    """
    placed = 0
    with Session(engine) as session, session.begin():
        # Keys first, for the whole batch, committed before anything leaves.
        todo = _orders(session, ids, OrderStatus.APPROVED, OrderStatus.ORDERING)
        interrupted = {o.id for o in todo if o.status is OrderStatus.ORDERING}
        for order in todo:
            if order.status is OrderStatus.APPROVED:
                order.operator_key = f"telefoni-onboarding-{order.id}"
                order.status = OrderStatus.ORDERING
        wanted = {o.id: operator_order(o) for o in todo}  # built once, from one batched read
    for order_id, payload in wanted.items():
        for attempt in range(1, attempts + 1):
            try:
                with Session(engine) as session, session.begin():
                    current = session.get(OnboardingOrder, order_id, with_for_update=True)
                    assert current is not None
                    if current.status is OrderStatus.ORDERING:
                        _place_one(
                            session,
                            current,
                            payload,
                            gateway,
                            ctx,
                            look_up_first=order_id in interrupted,
                        )
                        placed += 1
                break
            except OperatorTransientError as exc:
                if attempt == attempts:
                    raise
                wait = (
                    exc.retry_after if exc.retry_after is not None else backoff * 2 ** (attempt - 1)
                )
                sleep(min(wait, 60.0))
    return placed


def _place_one(
    session: Session,
    order: OnboardingOrder,
    wanted: OperatorOrder,
    gateway: OperatorGateway,
    ctx: Context,
    *,
    look_up_first: bool,
) -> None:
    known = None
    if look_up_first:  # it may have arrived before a crash: ask before sending again
        try:
            known = gateway.delivery_status(wanted)
        except OperatorRefusedError as exc:
            if exc.status != 404:  # 404: the operator never got it
                raise
    if known is not None:  # it arrived: record it, send nothing
        order.channel = "http"  # only a channel that can be asked answers
        reference, note = (
            order.operator_reference,
            " (fanns redan hos operatören; skickades inte igen)",
        )
    else:
        receipt = gateway.place_order(session, wanted)
        order.channel = receipt.channel
        reference = receipt.operator_reference
        note = " (operatören hade redan beställningen)" if receipt.duplicate else ""
    order.operator_reference = reference
    order.status = OrderStatus.ORDERED
    order.ordered_at = utcnow()
    audit.record_many(
        session,
        [
            _event(
                ctx,
                order,
                "ordered",
                rule="§6.1",
                reason="beställd genom den anvisade beställningsfunktionen" + note,
                after={
                    "kanal": order.channel,
                    "operatörens referens": reference,
                    "beställningsnyckel": order.operator_key,
                },
            )
        ],
    )


# --- delivered ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryWait:
    waiting: bool
    key: str
    description: str


def _in_register(session: Session, delivery: Delivery) -> str | None:
    if session.scalar(select(Subscription.id).where(Subscription.number == delivery.number)):
        return f"numret {delivery.number} finns redan i registret"
    if session.scalar(select(Device.id).where(Device.imei == delivery.imei)):
        return f"IMEI {delivery.imei} finns redan i registret"
    return None


def _delivered(
    order: OnboardingOrder, delivery: Delivery, ctx: Context, actor: Actor, source: str
) -> AuditRecord:
    order.number, order.imei, order.sim = delivery.number, delivery.imei, delivery.sim
    order.status = OrderStatus.DELIVERED
    order.delivered_at = utcnow()
    return _event(
        ctx,
        order,
        "delivered",
        actor=actor,
        rule="§6.1",
        reason=source,
        after={"nummer": delivery.number, "IMEI": delivery.imei, "SIM": delivery.sim},
    )


def collect_deliveries(
    session: Session, ids: Sequence[int], gateway: OperatorGateway, *, ctx: Context
) -> DeliveryWait:
    """Ask the operator (where it can tell) about undelivered orders; describe what is left."""
    records = []
    for order in _orders(session, ids, OrderStatus.ORDERED):
        try:
            status = gateway.delivery_status(operator_order(order))
        except (OperatorTransientError, OperatorRefusedError) as exc:  # ask again next time
            log.warning("Leveransläget för %s gick inte att hämta: %s", order.reference, exc)
            continue
        if status is None or status.state != "delivered" or status.delivery is None:
            continue
        problem = _in_register(session, status.delivery)
        if problem:
            log.warning("Leveransen för %s kan inte registreras: %s", order.reference, problem)
            continue
        records.append(
            _delivered(
                order, status.delivery, ctx, Actor.system("operator"), "levererad enligt operatören"
            )
        )
    audit.record_many(session, records)
    left = _orders(session, ids, OrderStatus.ORDERED)
    if not left:
        return DeliveryWait(False, "", "")
    lead = _lead(session, ids)
    return DeliveryWait(True, f"leverans-{lead.delivery_round}", delivery_text(left))


def delivery_text(orders: Sequence[OnboardingOrder]) -> str:
    lines = [
        "## Väntar på leverans från operatören",
        "",
        "Fyll i telefonnummer, IMEI och SIM-kortsnummer när telefonen har kommit. "
        + ("Ange också referensen." if len(orders) > 1 else ""),
        "",
        "| referens | anställd | modell |",
        "| --- | --- | --- |",
        *[f"| {o.reference} | {o.employee.name} | {o.phone_model_name} |" for o in orders[:200]],
    ]
    return "\n".join(lines)


def record_delivery(
    session: Session,
    ids: Sequence[int],
    given: DeliveryInput,
    *,
    ctx: Context,
    by: str | None = None,
) -> str | None:
    """A delivery typed into the form; returns what is wrong with it, or None when recorded."""
    lead = _lead(session, ids)
    lead.delivery_round += 1  # this wait is used up
    left = _orders(session, ids, OrderStatus.ORDERED)
    if not any((given.number, given.imei, given.sim)):
        return None  # woken to look again (the watch saw something arrive)
    if given.reference:
        wanted = given.reference.strip().upper()
        matches = [o for o in left if o.reference == wanted]
        if not matches:
            return f"{given.reference} väntar inte på leverans i den här beställningen"
        order = matches[0]
    elif len(left) == 1:
        order = left[0]
    else:
        return "Ange vilken beställning (referens TEL-…) leveransen gäller."
    try:
        delivery = Delivery.parse(
            number=given.number or "", imei=given.imei or "", sim=given.sim or ""
        )
    except ValueError as exc:
        return str(exc)
    problem = _in_register(session, delivery)
    if problem:
        return f"Leveransen registrerades inte: {problem}."
    audit.record_many(
        session,
        [
            _delivered(
                order,
                delivery,
                ctx,
                Actor.person(by) if by else ctx.actor,
                "leveransen registrerad i formuläret",
            )
        ],
    )
    return None


# --- registered --------------------------------------------------------------------------------


def register(session: Session, ids: Sequence[int], *, ctx: Context) -> None:
    """Subscription, device, headset and directory entry for every delivered order (§3.1)."""
    records = []
    for order in _orders(session, ids, OrderStatus.DELIVERED):
        e = order.employee
        option = order.subscription_option
        subscription = Subscription(
            number=order.number,
            kind=SubscriptionKind.PERSONAL,
            owner_id=e.id,
            option_id=order.subscription_option_id,
            status=SubscriptionStatus.ACTIVE,
            has_data=order.data or bool(option and option.includes_data),
            has_referral=True,  # §4.2.3
            referral_calendar_link=True,
            has_voicemail=True,
        )
        session.add(subscription)
        session.flush()
        device = Device(
            model_id=order.phone_model_id,
            imei=order.imei,
            status=DeviceStatus.IN_USE,
            holder_id=e.id,
            subscription_id=subscription.id,
            deviation_reason=order.deviation_reason,
            deviation_note=order.deviation_note,
        )
        session.add(device)
        session.flush()
        if order.headset:
            session.add(
                Accessory(
                    kind=AccessoryKind.HEADSET,
                    device_id=device.id,
                    holder_id=e.id,
                    description="headset",
                )
            )
        entry = session.scalar(select(DirectoryEntry).where(DirectoryEntry.employee_id == e.id))
        if entry is None:
            session.add(
                DirectoryEntry(
                    kind=SubscriptionKind.PERSONAL,
                    employee_id=e.id,
                    name=e.name,
                    phone_number=order.number,
                    email=e.email,
                    title=e.title,
                    personnummer_encrypted=e.personnummer_encrypted,
                    personnummer_hash=e.personnummer_hash,
                    user_id=e.user_id,
                    unit_id=e.unit_id,
                    cost_centre_id=e.cost_centre_id,
                    visiting_address=e.visiting_address,
                    keywords=e.keywords,
                )
            )
            directory = "ny post i kunddatabasen"
        else:
            if entry.phone_number is None or order.replacement:
                entry.phone_number = order.number
            directory = "numret lagt på befintlig post i kunddatabasen"
        order.subscription_id, order.device_id = subscription.id, device.id
        order.status = OrderStatus.REGISTERED
        records.append(
            _event(
                ctx,
                order,
                "registered",
                rule="§3.1",
                reason=f"abonnemang, telefon{' och headset' if order.headset else ''} "
                f"registrerade; {directory}",
                after={
                    "abonnemang": subscription.id,
                    "nummer": order.number,
                    "telefon": device.id,
                    "hänvisning": True,
                    "appar": [a["name"] for a in order.apps if a.get("approved")],
                },
            )
        )
    audit.record_many(session, records)


# --- notified ----------------------------------------------------------------------------------


def notify(session: Session, ids: Sequence[int], *, ctx: Context) -> None:
    """Tell the contact centre (§3.1) and each employee (passcode, §7.2); the order is done."""
    done = _orders(session, ids, OrderStatus.REGISTERED)
    if not done:
        return
    lead = _orders(session, [min(ids)])[0]
    rows = [f"{o.employee.name}, {o.employee.unit.name}: {o.number}" for o in done]
    enqueue(
        session,
        template="meddelande",
        business_key=f"onboarding-directory:{lead.reference}:{done[0].reference}",
        recipient=ctx.contact_centre_email,
        sender=ctx.sender,
        context={
            "subject": f"Nya mobilnummer i kunddatabasen ({len(done)} st)",
            "name": "",
            "paragraphs": [
                "Följande personbundna abonnemang har levererats och lagts in i kunddatabasen "
                "(§3.1), med hänvisning och kalenderkoppling (§4.2.3):",
                *rows,
            ],
            "municipality": ctx.municipality,
        },
    )
    records = []
    for order in done:
        e = order.employee
        told = ["kontaktcenter"]
        if e.email:
            enqueue(
                session,
                template="meddelande",
                business_key=f"onboarding-welcome:{order.reference}",
                recipient=e.email,
                sender=ctx.sender,
                context={
                    "subject": f"Din nya mobiltelefon är klar ({order.reference})",
                    "name": e.first_name,
                    "paragraphs": [
                        f"Din telefon ({order.phone_model_name}) och ditt abonnemang är klara. "
                        f"Ditt nummer är {order.number}.",
                        "Telefonen ska ha en lösenkod på minst fyra siffror – välj den när du "
                        "startar telefonen första gången. När du lämnar tillbaka telefonen ska du "
                        "återställa lösenkoden (§7.2).",
                        "Hänvisning är kopplad till din kalender: under bokade möten hänvisas "
                        "samtal automatiskt (§4.2.3).",
                        "Privat användning i begränsad omfattning är tillåten med gott omdöme "
                        "(§5.3). Vid frågor om användningen hjälper kontaktcenter; tekniska "
                        "problem går till IT-supporten (§6.2).",
                    ],
                    "municipality": ctx.municipality,
                },
            )
            told.append("den anställda")
        order.status = OrderStatus.COMPLETED
        order.completed_at = utcnow()
        records.append(
            _event(
                ctx,
                order,
                "notified",
                rule="§3.1",
                reason="kontaktcenter och den anställda underrättade",
                after={"mottagare": told},
            )
        )
    audit.record_many(session, records)


# --- Prefect tasks: one per step, over the whole batch ---------------------------------------


def context_from(settings: Settings, flow_run_id: str | None) -> Context:
    return Context(
        sender=Sender(str(settings.mail_from), settings.sender_name),
        contact_centre_email=str(settings.contact_centre_email),
        municipality=settings.municipality,
        ui_url=settings.prefect_ui_url,
        deputies=frozenset(d.strip() for d in settings.approval_deputies),
        deadline=timedelta(days=settings.approval_deadline_days),
        remind_every=timedelta(hours=settings.approval_reminder_hours),
        flow_run_id=flow_run_id,
        tz=settings.tz,
    )


def _current() -> tuple[Engine, Context, Settings]:
    from prefect.runtime import flow_run

    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings

    settings = get_settings()
    run_id = str(flow_run.id) if flow_run.id else None
    return get_engine(settings.database_url), context_from(settings, run_id), settings


def _today(settings: Settings) -> date:
    return datetime.now(settings.tz).date()


@task(
    name="Ta emot beställningar",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def receive_task(requests: list[OrderRequest], batch_key: str | None) -> list[int]:
    """Store each order once (the same request again finds its order)."""
    engine, ctx, _ = _current()
    with Session(engine) as session, session.begin():
        return receive(session, requests, batch_key=batch_key, ctx=ctx)


def _alive(run_id: str) -> bool:
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(run_id)).state
    except (ObjectNotFound, ValueError):
        return False
    return state is not None and not state.is_final()


@task(
    name="Ta över beställningarna",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def adopt_task(ids: list[int]) -> list[str]:
    """Orders of an ended run become this run's; runs still handling them are named."""
    engine, ctx, _ = _current()
    with Session(engine) as session, session.begin():
        return adopt(session, ids, ctx.flow_run_id, _alive)


@task(name="Sammanställ", cache_policy=NO_CACHE, persist_result=False)
def outcome_task(ids: list[int]) -> list[dict[str, str]]:
    """Where each order stands, for the run's artifact."""
    engine, _, _ = _current()
    with Session(engine) as session:
        return outcome_rows(session, ids)


@task(name="Kontrollera mot riktlinjerna", cache_policy=NO_CACHE, persist_result=False)
def check_task(ids: list[int]) -> dict[str, int]:
    """The guideline's rules (§4); refused orders stop here with their §."""
    engine, ctx, settings = _current()
    with Session(engine) as session, session.begin():
        check_orders(session, ids, ctx=ctx, today=_today(settings))
        return status_counts(session, ids)


@task(
    name="Be chefen om beslut",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def ask_task(ids: list[int]) -> ApprovalWait:
    """E-mail the manager once; what the approval form shows."""
    engine, ctx, _ = _current()
    with Session(engine) as session, session.begin():
        return ask_for_approval(session, ids, ctx=ctx, now=utcnow())


@task(
    name="Registrera beslut",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def decide_task(ids: list[int], decision: ApprovalDecision) -> DecisionOutcome:
    """The manager's (or deputy's) decision; anyone else is refused."""
    engine, ctx, _ = _current()
    with Session(engine) as session, session.begin():
        return decide(session, ids, decision, ctx=ctx, now=utcnow())


@task(
    name="Beställ via beställningsfunktionen",
    retries=3,
    retry_delay_seconds=60,
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def place_task(ids: list[int]) -> int:
    """Send each approved order once (§6.1), by the configured gateway."""
    engine, ctx, settings = _current()
    with closing(gateway_from(settings)) as gateway:
        return place_orders(engine, ids, gateway, ctx=ctx)


@task(
    name="Hämta leveranser",
    retries=3,
    retry_delay_seconds=30,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def collect_task(ids: list[int], wait_seconds: float = 0.0, every: float = 2.0) -> DeliveryWait:
    """Ask the operator about deliveries, for up to `wait_seconds`; what is still missing."""
    engine, ctx, settings = _current()
    deadline = time.monotonic() + wait_seconds
    with closing(gateway_from(settings)) as gateway:
        while True:
            with Session(engine) as session, session.begin():
                wait = collect_deliveries(session, ids, gateway, ctx=ctx)
            if not wait.waiting or time.monotonic() >= deadline:
                return wait
            time.sleep(every)


@task(name="Registrera leverans från formuläret", cache_policy=NO_CACHE, persist_result=False)
def record_delivery_task(ids: list[int], given: DeliveryInput) -> str | None:
    """A delivery typed in by a person; a message if it cannot be used."""
    engine, ctx, _ = _current()
    with Session(engine) as session, session.begin():
        return record_delivery(session, ids, given, ctx=ctx)


@task(
    name="Registrera abonnemang, telefon och kunddatabas",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def register_task(ids: list[int]) -> None:
    """Subscription, device, headset and directory entry (§3.1)."""
    engine, ctx, _ = _current()
    with Session(engine) as session, session.begin():
        register(session, ids, ctx=ctx)


@task(
    name="Underrätta kontaktcenter och den anställda",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def notify_task(ids: list[int]) -> dict[str, int]:
    """E-mails to the contact centre (§3.1) and the employee (§7.2), through the outbox."""
    engine, ctx, _ = _current()
    with Session(engine) as session, session.begin():
        notify(session, ids, ctx=ctx)
        return status_counts(session, ids)


def outcome_rows(session: Session, ids: Sequence[int]) -> list[dict[str, str]]:
    """Per order, for the run's artifact: where it stands and what the rules said."""
    rows = []
    for o in _orders(session, ids):
        said = [f"{f['rule']}: {f['message']}" for f in o.findings if f["severity"] != "note"]
        rows.append(
            {
                "referens": o.reference,
                "anställd": o.employee.employee_number,
                "läge": STATUS_SV[o.status],
                "nummer": o.number or "",
                "riktlinjerna": "; ".join(said),
            }
        )
    return rows


def status_counts(session: Session, ids: Sequence[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order in _orders(session, ids):
        counts[order.status.value] = counts.get(order.status.value, 0) + 1
    return counts


def watch_deliveries(session: Session, gateway: OperatorGateway, *, ctx: Context) -> list[Resume]:
    """Deliveries the operator reports for waiting runs; runs with nothing left are woken."""
    runs = session.scalars(
        select(OnboardingOrder.flow_run_id)
        .where(
            OnboardingOrder.status == OrderStatus.ORDERED, OnboardingOrder.flow_run_id.is_not(None)
        )
        .distinct()
    ).all()
    resumes = []
    for run_id in runs:
        ids = list(
            session.scalars(select(OnboardingOrder.id).where(OnboardingOrder.flow_run_id == run_id))
        )
        if not collect_deliveries(session, ids, gateway, ctx=ctx).waiting and run_id:
            resumes.append(Resume(run_id, {}))
    return resumes


@task(
    name="Påminnelser, tidsfrister och leveranser",
    retries=2,
    retry_delay_seconds=30,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def watch_task() -> list[Resume]:
    """Remind, reject at the deadline, collect deliveries; the runs to wake."""
    engine, ctx, settings = _current()
    with Session(engine) as session, session.begin():
        resumes = watch_approvals(session, ctx=ctx, now=utcnow())
    with closing(gateway_from(settings)) as gateway, Session(engine) as session, session.begin():
        resumes += watch_deliveries(session, gateway, ctx=ctx)
    return resumes
