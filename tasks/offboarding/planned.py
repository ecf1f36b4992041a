"""planned: what becomes of each of the leaver's subscriptions and phones, and the checklist.

An item per personal subscription (with the phone on it) and per phone on none of them; per
item the checklist of `models.offboarding_rules.checklist`, each thing with its owner and due
date. The employee is told what happens and how to return the phone (§7.2). Made once; a later
start that changes the last day, the successor or the dispositions changes what is not yet
carried out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models import offboarding_notices as notices
from models.offboarding import (
    DISPOSITION_SV,
    ChecklistItem,
    Disposition,
    ItemStatus,
    Offboarding,
    OffboardingItem,
    OffboardingStatus,
    Owner,
    Source,
)
from models.offboarding_rules import Holding, checklist, dispositions, due_on, identify
from models.register import Device, Subscription, SubscriptionKind
from tasks.offboarding.base import Context, event, load, of_municipality
from tasks.offboarding.recorded import HELD, HOLDING

OPEN = (
    OffboardingStatus.RECORDED,
    OffboardingStatus.PLANNED,
    OffboardingStatus.CONFIRMING,
    OffboardingStatus.WAITING,
)


def _holdings(
    session: Session, off: Offboarding
) -> list[tuple[Holding, Subscription | None, Device | None]]:
    """The leaver's personal subscriptions, each with the phone on it, then phones on none."""
    subs = list(
        session.scalars(
            select(Subscription)
            .where(
                Subscription.owner_id == off.employee_id,
                Subscription.kind == SubscriptionKind.PERSONAL,
                Subscription.status.in_(HOLDING),
            )
            .order_by(Subscription.number)
        )
    )
    devices = list(
        session.scalars(
            select(Device)
            .where(Device.holder_id == off.employee_id, Device.status.in_(HELD))
            .order_by(Device.id)
        )
    )
    shared = set(
        session.scalars(
            select(Subscription.id).where(
                Subscription.id.in_([d.subscription_id for d in devices if d.subscription_id]),
                Subscription.kind == SubscriptionKind.NON_PERSONAL,
            )
        )
    )
    on = {d.subscription_id: d for d in devices if d.subscription_id}
    found: list[tuple[Holding, Subscription | None, Device | None]] = []
    for sub in subs:
        device = on.pop(sub.id, None)
        holding = Holding(
            sub.number,
            device.imei if device else None,
            has_referral=sub.has_referral or sub.referral_calendar_link,
        )
        found.append((holding, sub, device))
    taken = {d.id for _, _, d in found if d is not None}
    for device in devices:
        if device.id not in taken:
            holding = Holding(
                None, device.imei, personal_phone=device.subscription_id not in shared
            )
            found.append((holding, None, device))
    return found


def plan(session: Session, ids: Sequence[int], *, ctx: Context, now: datetime) -> int:
    """Items and checklist for each offboarding not planned yet (PlanError: HR asked for what
    cannot be done, nothing of that offboarding is made); the dispositions and dates of those
    planned before brought up to date. Returns how many were planned now."""
    offs = load(session, ids, *OPEN, lock=True)
    of_municipality(ctx, offs)
    made = 0
    for off in offs:
        if off.status is OffboardingStatus.RECORDED:
            _make(session, off, ctx=ctx, now=now)
            made += 1
        else:
            _bring_up_to_date(session, off, ctx=ctx)
    return made


def _make(session: Session, off: Offboarding, *, ctx: Context, now: datetime) -> None:
    found = _holdings(session, off)
    wanted = {k: Disposition(v) for k, v in off.wanted.items()}
    chosen = dispositions(
        [h for h, _, _ in found], wanted, has_successor=off.successor_id is not None
    )
    named = {identify(k) for k in wanted}
    for (holding, sub, device), disposition in zip(found, chosen, strict=True):
        item = OffboardingItem(
            offboarding=off,
            subscription_id=sub.id if sub else None,
            device_id=device.id if device else None,
            number=holding.number,
            imei=holding.imei,
            disposition=disposition,
            disposition_by="HR" if {holding.number, holding.imei} & named else "förval",
            status=ItemStatus.PLANNED,
        )
        session.add(item)
        session.flush()
        for todo in checklist(holding, last_day=off.last_day, attest_days=ctx.attest_days):
            session.add(
                ChecklistItem(
                    offboarding_id=off.id,
                    item_id=item.id,
                    device_id=device.id if device else None,
                    task=todo.task,
                    rule=todo.rule,
                    owner=todo.owner,
                    owner_id=_owner_id(off, todo.owner),
                    due_on=todo.due_on,
                )
            )
    session.flush()
    session.refresh(off, ["items"])
    off.status = (
        OffboardingStatus.CONFIRMING if off.source is Source.SYNC else OffboardingStatus.PLANNED
    )
    records = [
        event(
            ctx,
            off,
            "planned",
            rule="§8.1",
            reason=f"{len(off.items)} abonnemang och telefoner; sista arbetsdag {off.last_day}",
            after={i.what: DISPOSITION_SV[i.disposition] for i in off.items},
        )
    ]
    if off.employee_told_at is None:
        ctx.queue(session, notices.employee_leaving(off, municipality=ctx.municipality))
        off.employee_told_at = now
        records.append(event(ctx, off, "employee_told", rule="§7.2", reason="besked om avslutet"))
    audit.record_many(session, records)


def _owner_id(off: Offboarding, owner: Owner) -> int | None:
    if owner is Owner.EMPLOYEE:
        return off.employee_id
    if owner is Owner.MANAGER:
        return off.employee.manager_id
    return None


def _bring_up_to_date(session: Session, off: Offboarding, *, ctx: Context) -> None:
    """A later start moved the last day or changed the plan: what is not done follows."""
    for item in off.items:
        for todo in item.checklist:
            if todo.attested_at is None:
                todo.due_on = due_on(todo.owner, off.last_day, ctx.attest_days)
    if not off.wanted:
        return
    wanted = {k: Disposition(v) for k, v in off.wanted.items()}
    holdings = [Holding(i.number, i.imei) for i in off.items]
    chosen = dispositions(holdings, wanted, has_successor=off.successor_id is not None)
    changed = []
    for item, disposition in zip(off.items, chosen, strict=True):
        if item.status is ItemStatus.PLANNED and item.disposition is not disposition:
            changed.append(
                f"{item.what}: {DISPOSITION_SV[item.disposition]} → {DISPOSITION_SV[disposition]}"
            )
            item.disposition, item.disposition_by = disposition, "HR"
    if changed:
        audit.record_many(
            session, [event(ctx, off, "replanned", rule="§8.1", reason="; ".join(changed))]
        )
