"""handed over: what the checklist has opened is carried out.

- hand over: the subscription and the phone go to the successor once the phone's factory
  reset is attested (§8.1; the register's gate refuses it before); the successor's directory
  entry gets the number, the leaver's loses it;
- terminated: once the operator confirmed, the phone goes back to stock (or is scrapped, as
  recorded) when it is returned and reset, and the leaver's entry loses the number;
- private takeover: recorded as waiting for the takeover process (§8.2); the employer's phone
  is returned like any other.

The system attests its own checklist items as it does them. Safe to call again: what is done
is passed over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models.asks import SYSTEM
from models.audit import AuditRecord
from models.offboarding import (
    DeviceOutcome,
    Disposition,
    ItemStatus,
    Offboarding,
    OffboardingItem,
    OffboardingStatus,
    Owner,
    Task,
)
from models.register import DeviceStatus, DirectoryEntry, Employee, SubscriptionKind
from tasks.offboarding.base import Context, event, load


def _attested(item: OffboardingItem, task: Task) -> bool:
    """Whether the item's `task` is attested (or not on its checklist at all)."""
    found = [c for c in item.checklist if c.task is task]
    return all(c.attested_at is not None for c in found)


def _system_done(item: OffboardingItem, now: datetime, *tasks: Task) -> None:
    for c in item.checklist:
        if c.task in tasks and c.owner is Owner.SYSTEM and c.attested_at is None:
            c.attested_by, c.attested_at = SYSTEM, now


def carry_out(session: Session, ids: Sequence[int], *, ctx: Context, now: datetime) -> int:
    """Everything the checklist allows now, for the offboardings being carried out; returns
    how many items were settled now."""
    offs = load(session, ids, OffboardingStatus.CARRYING_OUT)
    records: list[AuditRecord] = []
    settled = 0
    for off in offs:
        for item in off.items:
            before = item.status
            if item.disposition is Disposition.HAND_OVER:
                records += _hand_over(session, off, item, ctx=ctx, now=now)
            elif item.disposition is Disposition.TAKEOVER and item.status is ItemStatus.PLANNED:
                item.status = ItemStatus.TAKEOVER_WAITING
                records.append(
                    event(
                        ctx,
                        off,
                        "takeover_requested",
                        rule="§8.2",
                        reason=f"{item.what}: privat övertagande begärt; väntar på chefens "
                        "beslut i processen för överlåtelse",
                    )
                )
            if item.disposition is not Disposition.HAND_OVER:
                records += _return_phone(session, off, item, ctx=ctx, now=now)
            settled += before is not item.status and item.status.settled
    audit.record_many(session, records)
    return settled


def _hand_over(
    session: Session, off: Offboarding, item: OffboardingItem, *, ctx: Context, now: datetime
) -> list[AuditRecord]:
    if item.status is not ItemStatus.PLANNED or off.successor is None:
        return []
    if item.device is not None and not _attested(item, Task.FACTORY_RESET):
        return []  # §8.1: not before the factory reset is attested (the register refuses it)
    successor = off.successor
    sub, device = item.subscription, item.device
    if sub is not None:
        sub.owner_id = successor.id
    if device is not None:
        device.holder_id = successor.id
        device.status = DeviceStatus.IN_USE
    session.flush()  # the gate speaks here if anything was left unattested
    if item.number is not None:
        _move_number(session, item.number, off.employee, successor)
    item.status, item.settled_at = ItemStatus.HANDED_OVER, now
    _system_done(item, now, Task.REFERRAL_REMOVED, Task.DIRECTORY_UPDATED)
    return [
        event(
            ctx,
            off,
            "handed_over",
            rule="§8.1",
            reason=f"{item.what} överlämnat till {successor.name} ({successor.employee_number})",
            after={"efterträdare": successor.employee_number},
        )
    ]


def _return_phone(
    session: Session, off: Offboarding, item: OffboardingItem, *, ctx: Context, now: datetime
) -> list[AuditRecord]:
    """A terminated or taken-over number leaves the leaver's entry; their phone, once returned
    and reset, goes to stock or is scrapped."""
    gone = item.status in (ItemStatus.TERMINATED, ItemStatus.TAKEOVER_WAITING)
    if item.number is not None and gone and not _attested(item, Task.DIRECTORY_UPDATED):
        _move_number(session, item.number, off.employee, None)
        _system_done(item, now, Task.REFERRAL_REMOVED, Task.DIRECTORY_UPDATED)
    device = item.device
    if device is None or device.status in (DeviceStatus.IN_STOCK, DeviceStatus.DISPOSED):
        return []
    if not (_attested(item, Task.DEVICE_RETURNED) and _attested(item, Task.FACTORY_RESET)):
        return []
    scrapped = item.device_outcome is DeviceOutcome.SCRAPPED
    device.holder_id = device.subscription_id = None
    device.status = DeviceStatus.DISPOSED if scrapped else DeviceStatus.IN_STOCK
    item.device_outcome = DeviceOutcome.SCRAPPED if scrapped else DeviceOutcome.STOCK
    if item.number is None:
        item.status, item.settled_at = ItemStatus.DONE, now
    where = "kasserad" if scrapped else "tillbaka i lagret"
    return [event(ctx, off, "phone_returned", rule="§8.1", reason=f"{_phone(item)} {where}")]


def _phone(item: OffboardingItem) -> str:
    return f"telefonen med IMEI {item.imei}" if item.imei else "telefonen"


def _move_number(
    session: Session, number: str, leaver: Employee, successor: Employee | None
) -> None:
    """The number out of the leaver's directory entry and, for a handover, into the
    successor's (the nightly sync then finds them as the register says)."""
    entries = {
        e.employee_id: e
        for e in session.scalars(
            select(DirectoryEntry).where(
                DirectoryEntry.employee_id.in_([leaver.id] + ([successor.id] if successor else [])),
                DirectoryEntry.kind == SubscriptionKind.PERSONAL,
            )
        )
    }
    mine = entries.get(leaver.id)
    if mine is not None and mine.phone_number == number:
        mine.phone_number = None
    if successor is not None:
        theirs = entries.get(successor.id)
        if theirs is not None and not theirs.phone_number:
            theirs.phone_number = number


def settled(off: Offboarding) -> bool:
    """Everything of the offboarding is done but telling the contact centre."""
    phones_home = all(
        i.device is None
        or i.status is ItemStatus.HANDED_OVER
        or i.device.status in (DeviceStatus.IN_STOCK, DeviceStatus.DISPOSED)
        for i in off.items
    )
    attested = all(
        c.attested_at is not None
        for i in off.items
        for c in i.checklist
        if c.task is not Task.CONTACT_CENTRE_INFORMED
    )
    return phones_home and attested and all(i.status.settled for i in off.items)
