"""delivered: number, IMEI and SIM, as the operator reports them or a person types them (§6.1)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
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
    """Whether the run waits for a delivery typed in by a person, and for which order: the
    form asks for one order at a time (`order_id`), named in its text and in its key."""

    waiting: bool
    key: str
    description: str
    order_id: int | None = None


def _in_use(session: Session, delivery: Delivery, order: OnboardingOrder) -> str | None:
    """Why the delivery cannot be `order`'s: its number or IMEI is in the register already,
    or its number, IMEI or SIM was given to another order not yet registered (the same
    batch, or another run's)."""
    if session.scalar(select(Subscription.id).where(Subscription.number == delivery.number)):
        return f"numret {delivery.number} finns redan i registret"
    if session.scalar(select(Device.id).where(Device.imei == delivery.imei)):
        return f"IMEI {delivery.imei} finns redan i registret"
    others = session.scalars(
        select(OnboardingOrder).where(
            OnboardingOrder.id != order.id,
            OnboardingOrder.status == OrderStatus.DELIVERED,
            or_(
                OnboardingOrder.number == delivery.number,
                OnboardingOrder.imei == delivery.imei,
                OnboardingOrder.sim == delivery.sim,
            ),
        )
    ).all()
    for other in others:
        for what, mine, theirs in (
            (f"numret {delivery.number}", delivery.number, other.number),
            (f"IMEI {delivery.imei}", delivery.imei, other.imei),
            (f"SIM-kortet {delivery.sim}", delivery.sim, other.sim),
        ):
            if mine == theirs:
                return f"{what} är redan registrerat för {other.reference}"
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
        problem = _in_use(session, status.delivery, order)
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
    lead, asked = batch_lead(session, ids), left[0]
    return DeliveryWait(
        True,
        f"leverans-{lead.delivery_round}-{asked.reference.lower()}",
        notices.delivery_form(left),  # the first is the one asked for
        asked.id,
    )


def record_delivery(
    session: Session,
    ids: Sequence[int],
    given: DeliveryInput,
    *,
    ctx: Context,
    by: str | None = None,
    order_id: int | None = None,
) -> str | None:
    """A delivery typed into the form for order `order_id` (None: the first still waiting, as
    the form shows it); returns what is wrong with it, or None when recorded (or when nothing
    was typed: woken to look again)."""
    lead = batch_lead(session, ids)
    lead.delivery_round += 1  # this wait is used up
    if not any(v.strip() for v in (given.number, given.imei, given.sim)):
        return None  # woken to look again (the watch saw something arrive)
    left = load_orders(session, ids, OrderStatus.ORDERED)
    wanted = [o for o in left if o.id == order_id] if order_id is not None else left[:1]
    if not wanted:
        asked = session.get(OnboardingOrder, order_id) if order_id is not None else None
        which = asked.reference if asked is not None else "Beställningen"
        return f"{which} väntar inte längre på leverans; uppgifterna registrerades inte."
    order = wanted[0]
    try:
        delivery = Delivery.parse(number=given.number, imei=given.imei, sim=given.sim)
    except ValueError as exc:
        return str(exc)
    problem = _in_use(session, delivery, order)
    if problem:
        return f"Leveransen för {order.reference} registrerades inte: {problem}."
    actor = Actor.person(by) if by else ctx.actor
    audit.record_many(
        session, [_delivered(order, delivery, ctx, actor, "leveransen registrerad i formuläret")]
    )
    return None
