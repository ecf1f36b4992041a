"""ordered: every approved order sent to the designated ordering function exactly once (§6.1)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import audit
from models.base import utcnow
from models.onboarding import OnboardingOrder, OrderStatus
from models.onboarding_forms import DEVIATION_TEXT
from models.ordering import OperatorOrder
from tasks.onboarding.base import Context, event, load_orders, of_municipality, services
from tasks.operator import OperatorGateway, OperatorRefusedError, with_retries


def operator_order(order: OnboardingOrder, *, municipality: str = "") -> OperatorOrder:
    """The order as the operator gets it, from `municipality` (its name): with the services
    the guideline requires."""
    e = order.employee
    option = order.subscription_option
    placed = services(order)
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
        subscription_name=option.name if option else order.subscription_option_code,
        data=placed.data,
        referral=placed.referral,
        referral_calendar=placed.referral_calendar,
        apps=tuple(a["name"] for a in order.apps if a.get("approved")),
        wanted_by=order.wanted_by,
        requested_by=order.requested_by,
        approved_by=order.decided_by or "",
        replacement=order.replacement,
        municipality=municipality,
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
    The orders are the context's municipality's, and `gateway` is its own.

    The operator key is committed before the order leaves; an order found with a key but not
    recorded as sent (a crash in between) is first looked up at the operator, and sent again
    with the same key only if the operator does not know it.
    """
    placed = 0
    with Session(engine) as session, session.begin():
        # Keys first, for the whole batch, committed before anything leaves.
        todo = load_orders(session, ids, OrderStatus.APPROVED, OrderStatus.ORDERING)
        of_municipality(ctx, todo)
        interrupted = {o.id for o in todo if o.status is OrderStatus.ORDERING}
        for order in todo:
            if order.status is OrderStatus.APPROVED:
                order.operator_key = f"telefoni-onboarding-{order.id}"
                order.status = OrderStatus.ORDERING
        # Built once, from one batched read.
        wanted = {o.id: operator_order(o, municipality=ctx.municipality) for o in todo}
    for order_id, payload in wanted.items():

        def place(order_id: int = order_id, payload: OperatorOrder = payload) -> int:
            with Session(engine) as session, session.begin():
                current = session.get(OnboardingOrder, order_id, with_for_update=True)
                assert current is not None
                if current.status is not OrderStatus.ORDERING:
                    return 0
                _place_one(
                    session, current, payload, gateway, ctx, look_up_first=order_id in interrupted
                )
                return 1

        placed += with_retries(place, attempts=attempts, backoff=backoff, sleep=sleep)
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
            event(
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
