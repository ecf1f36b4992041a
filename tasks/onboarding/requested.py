"""requested: one order row per request; the same request again finds its order (§4)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import audit
from models.audit import Actor
from models.onboarding import OnboardingOrder, OrderStatus, content_key
from models.onboarding_forms import DEVIATION_TEXT, OrderRequest
from models.register import Employee
from tasks.onboarding.base import Context, event, load_orders


class UnknownEmployee(ValueError):
    """An order names an employee number the register does not know."""


class RequestRace(RuntimeError):
    """Another run stored the same request at the same moment; a retry finds its order."""


def _order_fields(request: OrderRequest) -> dict[str, Any]:
    return {
        "need_category": request.need_category,
        "phone_model_name": request.phone_model,
        "deviation_reason": request.deviation,
        "deviation_note": request.deviation_note or None,
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
        "wanted_by": request.wanted_date,
    }


def _employee_ids(session: Session, numbers: Sequence[str], ctx: Context) -> dict[str, int]:
    """Employee number → id, within the run's municipality (a number is unique only there);
    UnknownEmployee names the numbers it does not know."""
    employees: dict[str, int] = {}
    unique = sorted(set(numbers))
    for start in range(0, len(unique), 500):
        employees.update(
            (number, id_)
            for number, id_ in session.execute(
                select(Employee.employee_number, Employee.id).where(
                    Employee.municipality_id == ctx.municipality_id,
                    Employee.employee_number.in_(unique[start : start + 500]),
                )
            )
        )
    unknown = sorted({shown_number(n) for n in numbers if n not in employees})
    if unknown:
        listed = ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")
        raise UnknownEmployee(
            f"anställningsnummer finns inte i registret för {ctx.municipality}: {listed}"
        )
    return employees


def shown_number(number: str) -> str:
    """An unknown employee number as the message may show it: not one that looks like a
    personnummer typed into the wrong field (the message reaches logs and the run's state)."""
    if re.fullmatch(r"(\d{2})?\d{6}[-+ ]?\d{4}", number.strip()):
        return "(ett nummer som liknar ett personnummer)"
    return number


def _orders_by_key(session: Session, keys: Sequence[str]) -> dict[str, list[OnboardingOrder]]:
    """The orders already stored for these request keys, oldest attempt first."""
    known: dict[str, list[OnboardingOrder]] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), 500):
        for order in session.scalars(
            select(OnboardingOrder).where(
                OnboardingOrder.request_key.in_(unique[start : start + 500])
            )
        ):
            known.setdefault(order.request_key, []).append(order)
    return {key: sorted(found, key=lambda o: o.request_attempt) for key, found in known.items()}


@dataclass(frozen=True)
class Received:
    """The orders of the requests, in their order, and how many of them are new."""

    ids: list[int]
    new: int


def request_key(request: OrderRequest, batch_key: str | None, municipality_id: int) -> str:
    """What makes the same request twice one order: its content (the need category by its
    digit, not the words the form shows it with), its batch and its municipality."""
    content = request.model_dump(mode="json") | {"need_category": request.need_category}
    return content_key(content | {"batch": batch_key, "kommun": municipality_id})


def receive(
    session: Session, requests: Sequence[OrderRequest], *, batch_key: str | None, ctx: Context
) -> list[int]:
    """One order row per request, in the run's municipality (its employees'); the same request
    again gives the same order (not a second), the same request in another municipality another."""
    return receive_orders(session, requests, batch_key=batch_key, ctx=ctx).ids


def receive_orders(
    session: Session, requests: Sequence[OrderRequest], *, batch_key: str | None, ctx: Context
) -> Received:
    """`receive`, telling how many of the orders are new (the others were there already)."""
    if ctx.municipality_id is None:
        raise ValueError("receive needs the municipality the orders are for")
    employees = _employee_ids(session, [r.employee_number for r in requests], ctx)
    keys = [request_key(r, batch_key, ctx.municipality_id) for r in requests]
    known = _orders_by_key(session, keys)
    orders, new = [], []
    for request, key in zip(requests, keys, strict=True):
        earlier = known.setdefault(key, [])
        if earlier and earlier[-1].status not in (OrderStatus.REFUSED, OrderStatus.REJECTED):
            orders.append(earlier[-1])
            continue
        order = OnboardingOrder(
            request_key=key,
            municipality_id=ctx.municipality_id,
            request_attempt=earlier[-1].request_attempt + 1 if earlier else 0,
            batch_key=batch_key,
            employee_id=employees[request.employee_number],
            flow_run_id=ctx.flow_run_id,
            **_order_fields(request),
        )
        earlier.append(order)
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
            event(
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
    return Received([order.id for order in orders], len(new))


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
    for order in load_orders(session, ids):
        if order.status.closed or order.flow_run_id in (None, run_id):
            continue
        if alive(str(order.flow_run_id)):
            busy.append(str(order.flow_run_id))
        else:
            order.flow_run_id = run_id
    return sorted(set(busy))
