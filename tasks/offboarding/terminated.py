"""terminated: each subscription to end is sent to the operator exactly once, and ends when the
operator confirms it (§8.1, §6.1).

The termination's key is committed before anything leaves; one found with its key but not
recorded as sent (a crash in between) is first looked up at the operator and sent again, with
the same key, only if the operator does not know it. By e-mail, nobody can look it up: it is
sent again under the same key, and the outbox holds it once. The API confirms at once or later
(`confirm_pending`); by e-mail, a person registers the confirmation in the run's form.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import audit
from models import offboarding_notices as notices
from models.base import utcnow
from models.offboarding import (
    Disposition,
    ItemStatus,
    Offboarding,
    OffboardingItem,
    OffboardingStatus,
)
from models.ordering import TerminationOrder
from models.register import SubscriptionStatus
from tasks.offboarding.base import (
    NOT_WAITING,
    Context,
    Wait,
    event,
    lead,
    load,
    of_municipality,
    used_up,
)
from tasks.operator import OperatorGateway, OperatorRefusedError, with_retries


def termination(off: Offboarding, item: OffboardingItem, *, municipality: str) -> TerminationOrder:
    return TerminationOrder(
        idempotency_key=item.operator_key or f"telefoni-offboarding-{item.id}",
        reference=off.reference,
        number=str(item.number),
        employee_number=off.employee.employee_number,
        employee_name=off.employee.name,
        last_day=off.last_day,
        requested_by=off.started_by,
        municipality=municipality,
    )


def send_terminations(
    engine: Engine,
    ids: Sequence[int],
    gateway: OperatorGateway,
    *,
    ctx: Context,
    attempts: int = 5,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send every subscription to terminate of the run's offboardings being carried out, once;
    returns how many were sent now."""
    with Session(engine) as session, session.begin():
        offs = load(session, ids, OffboardingStatus.CARRYING_OUT)
        of_municipality(ctx, offs)
        todo: dict[int, TerminationOrder] = {}
        interrupted: set[int] = set()
        for off in offs:
            for item in off.items:
                if item.disposition is not Disposition.TERMINATE or item.number is None:
                    continue
                if item.status is ItemStatus.PLANNED:
                    item.operator_key = f"telefoni-offboarding-{item.id}"
                    item.status = ItemStatus.TERMINATING
                elif item.status is ItemStatus.TERMINATING:
                    interrupted.add(item.id)
                else:
                    continue
                todo[item.id] = termination(off, item, municipality=ctx.municipality)
    sent = 0
    for item_id, order in todo.items():

        def send(item_id: int = item_id, order: TerminationOrder = order) -> int:
            with Session(engine) as session, session.begin():
                current = session.get(OffboardingItem, item_id, with_for_update=True)
                assert current is not None
                if current.status is not ItemStatus.TERMINATING:
                    return 0
                _send_one(
                    session, current, order, gateway, ctx, look_up_first=item_id in interrupted
                )
                return 1

        sent += with_retries(send, attempts=attempts, backoff=backoff, sleep=sleep)
    return sent


def _send_one(
    session: Session,
    item: OffboardingItem,
    order: TerminationOrder,
    gateway: OperatorGateway,
    ctx: Context,
    *,
    look_up_first: bool,
) -> None:
    state = None
    if look_up_first:  # it may have arrived before a crash: ask before sending again
        try:
            state = gateway.termination_state(order)
        except OperatorRefusedError as exc:
            if exc.status != 404:  # 404: the operator never got it
                raise
    off = item.offboarding
    if state is not None:
        item.channel = "http"
        confirmed, note = state == "confirmed", " (fanns redan hos operatören; skickades inte igen)"
    else:
        receipt = gateway.terminate(session, order)
        item.channel = receipt.channel
        item.operator_reference = receipt.operator_reference
        confirmed = receipt.confirmed
        note = " (operatören hade redan uppsägningen)" if receipt.duplicate else ""
    item.status = ItemStatus.TERMINATION_SENT
    records = [
        event(
            ctx,
            off,
            "termination_sent",
            rule="§8.1",
            reason=f"uppsägning av {item.number} skickad via {item.channel}{note}",
            after={"nyckel": order.idempotency_key},
        )
    ]
    if confirmed:
        records.append(_ended(item, ctx, now=utcnow(), by="operatören"))
    audit.record_many(session, records)


def _ended(item: OffboardingItem, ctx: Context, *, now: datetime, by: str) -> audit.AuditRecord:
    """The operator confirmed: the subscription has ended, and its referral with it."""
    item.status = ItemStatus.TERMINATED
    item.terminated_at = now
    sub = item.subscription
    if sub is not None:
        sub.status = SubscriptionStatus.TERMINATED
        sub.has_referral = sub.referral_calendar_link = False
    return event(
        ctx,
        item.offboarding,
        "terminated",
        rule="§8.1",
        reason=f"{item.number} uppsagt, bekräftat av {by}",
    )


def confirm_pending(
    session: Session, ids: Sequence[int], gateway: OperatorGateway, *, ctx: Context
) -> int:
    """Ask the operator about terminations sent but not confirmed; returns how many ended now."""
    offs = load(session, ids, OffboardingStatus.CARRYING_OUT)
    records = []
    for off in offs:
        for item in off.items:
            if item.status is not ItemStatus.TERMINATION_SENT or item.channel != "http":
                continue
            state = gateway.termination_state(termination(off, item, municipality=ctx.municipality))
            if state == "confirmed":
                records.append(_ended(item, ctx, now=utcnow(), by="operatören"))
    audit.record_many(session, records)
    return len(records)


def termination_wait(session: Session, ids: Sequence[int], *, ctx: Context) -> Wait:
    """Terminations sent by e-mail wait for a person to register the operator's confirmation."""
    offs = load(session, ids, OffboardingStatus.CARRYING_OUT)
    open_ = [
        i
        for o in offs
        for i in o.items
        if i.status is ItemStatus.TERMINATION_SENT and i.channel == "email"
    ]
    if not open_:
        return NOT_WAITING
    return Wait(
        True,
        f"uppsagning-{lead(session, ids).wait_round}",
        notices.termination_form(open_, municipality=ctx.municipality),
    )


def record_confirmed(
    session: Session, ids: Sequence[int], numbers: Sequence[str], *, by: str, ctx: Context
) -> str | None:
    """A person registers the operator's confirmation of these numbers; None when all were
    known, else which were not (in Swedish)."""
    from models.offboarding_rules import identify

    used_up(session, ids)
    wanted = {identify(n) for n in numbers if n.strip()}
    offs = load(session, ids, OffboardingStatus.CARRYING_OUT)
    records = []
    for off in offs:
        for item in off.items:
            if item.status is ItemStatus.TERMINATION_SENT and item.number in wanted:
                records.append(_ended(item, ctx, now=utcnow(), by=by))
                wanted.discard(str(item.number))
    audit.record_many(session, records)
    if wanted:
        return "Inte bland uppsägningarna som väntar: " + ", ".join(sorted(wanted))
    return None
