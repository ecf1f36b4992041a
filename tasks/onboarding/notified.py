"""notified: the contact centre (§3.1) and each employee (§7.2) are told; the order is done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy.orm import Session

from models import audit
from models import onboarding_notices as notices
from models.base import utcnow
from models.onboarding import OrderStatus
from tasks.onboarding.base import Context, event, load_orders, of_municipality, queue


class Told(NamedTuple):
    """What `notify` did now: orders done (the contact centre told of each), employees told."""

    orders: int
    employees: int


def notify(session: Session, ids: Sequence[int], *, ctx: Context) -> Told:
    """Tell the contact centre (§3.1) and each employee (passcode, §7.2); the order is done."""
    done = load_orders(session, ids, OrderStatus.REGISTERED)
    if not done:
        return Told(0, 0)
    of_municipality(ctx, done)
    lead = load_orders(session, [min(ids)])[0]
    queue(
        session,
        ctx,
        notices.new_numbers(
            lead, done, recipient=ctx.contact_centre_email, municipality=ctx.municipality
        ),
    )
    records, employees = [], 0
    for order in done:
        told = ["kontaktcenter"]
        welcome = notices.phone_ready(order, municipality=ctx.municipality)
        if welcome is not None:
            queue(session, ctx, welcome)
            told.append("den anställda")
            employees += 1
        order.status = OrderStatus.COMPLETED
        order.completed_at = utcnow()
        records.append(
            event(
                ctx,
                order,
                "notified",
                rule="§3.1",
                reason="kontaktcenter och den anställda underrättade",
                after={"mottagare": told},
            )
        )
    audit.record_many(session, records)
    return Told(len(done), employees)
