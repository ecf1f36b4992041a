"""What every stage of the onboarding order shares: its surroundings, its orders, its records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.asks import Timing
from models.audit import Actor, AuditRecord
from models.notice import Notice
from models.onboarding import OBJECT_TYPE, OnboardingOrder, OrderStatus
from models.onboarding_rules import (
    Finding,
    ModelFacts,
    OptionFacts,
    OrderFacts,
    PaidApp,
    Services,
    placed_services,
)
from models.outbox import Sender, enqueue_notice
from models.register import Employee, PhoneModel, SubscriptionOption
from tasks.people.context import AskContext, timing_of
from telefoni.core.municipalities import MunicipalitySettings
from telefoni.core.settings import Settings
from telefoni.core.tenancy import sender_of
from telefoni.core.vault import answer_code_key

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@dataclass(frozen=True)
class Context:
    """What the steps need to know about their surroundings: one municipality's, whose orders
    they handle (its sender and addresses, who besides the manager may decide, how long)."""

    sender: Sender
    contact_centre_email: str
    municipality: str  # its name, as people read it
    ui_url: str
    municipality_id: int | None = None  # the register's; None only where no order is read
    ordering_function_email: str = ""
    deputies: frozenset[str] = frozenset()
    deadline: timedelta = timedelta(days=14)
    remind_every: timedelta = timedelta(hours=48)
    flow_run_id: str | None = None
    tz: ZoneInfo = STOCKHOLM  # how times are shown to people
    # People's steps (tasks.people): the admin, the key of the one-time codes, escalation.
    admin_email: str = ""
    code_key: bytes = field(default=b"", repr=False)
    escalate_after: timedelta | None = None
    max_attempts: int = 5
    max_codes: int = 3

    @property
    def asking(self) -> AskContext:
        """The same surroundings, as the mechanism of people's steps reads them."""
        if self.municipality_id is None or not self.code_key:
            raise ValueError("asking a person needs the municipality and the key of the codes")
        return AskContext(
            sender=self.sender,
            municipality=self.municipality,
            municipality_id=self.municipality_id,
            admin_email=self.admin_email,
            code_key=self.code_key,
            ui_url=self.ui_url,
            deputies=self.deputies,
            timing=Timing(self.deadline, self.remind_every, self.escalate_after),
            tz=self.tz,
            max_attempts=self.max_attempts,
            max_codes=self.max_codes,
            flow_run_id=self.flow_run_id,
        )

    @property
    def actor(self) -> Actor:
        return Actor.flow_run(self.flow_run_id) if self.flow_run_id else Actor.system("onboarding")

    def run_url(self, flow_run_id: str | None = None) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/flow-run/{flow_run_id or self.flow_run_id}"

    def today(self) -> date:
        return datetime.now(self.tz).date()


def context_from(
    settings: Settings,
    flow_run_id: str | None,
    municipality: MunicipalitySettings,
    municipality_id: int,
) -> Context:
    """The surroundings of `municipality`'s orders (`municipality_id`: its register row)."""
    return Context(
        sender=sender_of(municipality),
        contact_centre_email=str(municipality.contact_centre_email),
        municipality=municipality.name,
        ui_url=settings.prefect_ui_url,
        municipality_id=municipality_id,
        ordering_function_email=str(municipality.ordering_function_email),
        deputies=municipality.deputies,
        deadline=timedelta(days=municipality.approval_deadline_days),
        remind_every=timedelta(hours=municipality.approval_reminder_hours),
        flow_run_id=flow_run_id,
        tz=settings.tz,
        admin_email=str(municipality.admin_email),
        code_key=answer_code_key(settings),
        escalate_after=timing_of(municipality).escalate_after,
        max_attempts=settings.answer_max_attempts,
        max_codes=settings.answer_max_codes,
    )


def of_municipality(ctx: Context, orders: Sequence[OnboardingOrder]) -> None:
    """Refuse to handle orders of another municipality than the context's (its sender,
    addresses and deciders would be the wrong ones)."""
    strangers = [o.reference for o in orders if o.municipality_id != ctx.municipality_id]
    if strangers:
        raise WrongMunicipality(
            f"{', '.join(strangers[:5])} hör inte till {ctx.municipality}; inget har gjorts med dem"
        )


class WrongMunicipality(ValueError):
    """A step was asked to handle another municipality's orders."""


def load_orders(
    session: Session, ids: Sequence[int], *statuses: OrderStatus, lock: bool = False
) -> list[OnboardingOrder]:
    """The batch's orders (those in `statuses`, if given), in order, with what the steps read."""
    stmt = (
        select(OnboardingOrder)
        .where(OnboardingOrder.id.in_(ids))
        .order_by(OnboardingOrder.id)
        .options(
            selectinload(OnboardingOrder.employee).selectinload(Employee.unit),
            selectinload(OnboardingOrder.employee).selectinload(Employee.cost_centre),
            selectinload(OnboardingOrder.employee).selectinload(Employee.manager),
            selectinload(OnboardingOrder.approver),
            selectinload(OnboardingOrder.phone_model),
            selectinload(OnboardingOrder.subscription_option),
        )
    )
    if statuses:
        stmt = stmt.where(OnboardingOrder.status.in_(statuses))
    if lock:
        stmt = stmt.with_for_update(of=OnboardingOrder)
    return list(session.scalars(stmt))


def batch_lead(session: Session, ids: Sequence[int]) -> OnboardingOrder:
    """The batch's first order, locked: it keeps the batch's wait counters."""
    lead = session.get(OnboardingOrder, min(ids), with_for_update=True)
    assert lead is not None
    return lead


def event(
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
    """An audit record of the order's story (`onboarding.<action>`)."""
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
        municipality_id=order.municipality_id,
    )


def queue(session: Session, ctx: Context, notice: Notice | None) -> None:
    """Queue a notice in the caller's transaction, from the run's sender (None: nobody to tell)."""
    enqueue_notice(session, notice, ctx.sender)


def paid_apps(order: OnboardingOrder) -> tuple[PaidApp, ...]:
    return tuple(PaidApp(a["name"], Decimal(a["monthly_cost_sek"]), a["why"]) for a in order.apps)


def finding_dict(f: Finding) -> dict[str, str]:
    return {"rule": f.rule, "severity": f.severity.value, "message": f.message}


def order_facts(
    order: OnboardingOrder, model: PhoneModel | None, option: SubscriptionOption | None
) -> OrderFacts:
    """The order as the rules see it: what was asked for, with the catalogue's model and option
    (None: not in the catalogue). The employee's situation is for the check to add."""
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
        apps=paid_apps(order),
        replacement=order.replacement,
    )


def services(order: OnboardingOrder) -> Services:
    """What a checked order is placed and registered with (§4.2.2, §4.2.3)."""
    return placed_services(order_facts(order, order.phone_model, order.subscription_option))
