"""delivered: number, IMEI and SIM, as the operator reports them or a person types them (§6.1)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models import onboarding_notices as notices
from models.audit import Actor, AuditRecord
from models.base import utcnow
from models.onboarding import OnboardingOrder, OrderStatus
from models.onboarding_forms import DeliveryInput
from models.ordering import Delivery
from models.register import Device, Subscription
from tasks.onboarding.base import Context, batch_lead, event, load_orders
from tasks.onboarding.ordered import operator_order
from tasks.operator import OperatorGateway, OperatorRefusedError, OperatorTransientError

log = logging.getLogger(__name__)


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
    return event(
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
    for order in load_orders(session, ids, OrderStatus.ORDERED):
        try:
            status = gateway.delivery_status(operator_order(order, municipality=ctx.municipality))
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
    left = load_orders(session, ids, OrderStatus.ORDERED)
    if not left:
        return DeliveryWait(False, "", "")
    lead = batch_lead(session, ids)
    return DeliveryWait(True, f"leverans-{lead.delivery_round}", notices.delivery_form(left))


def record_delivery(
    session: Session,
    ids: Sequence[int],
    given: DeliveryInput,
    *,
    ctx: Context,
    by: str | None = None,
) -> str | None:
    """A delivery typed into the form; returns what is wrong with it, or None when recorded."""
    lead = batch_lead(session, ids)
    lead.delivery_round += 1  # this wait is used up
    left = load_orders(session, ids, OrderStatus.ORDERED)
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
    actor = Actor.person(by) if by else ctx.actor
    audit.record_many(
        session, [_delivered(order, delivery, ctx, actor, "leveransen registrerad i formuläret")]
    )
    return None
