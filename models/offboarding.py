"""Offboarding (§7.2, §8.1): when an employment ends, what becomes of each phone and number.

One `Offboarding` per employment end (the employee and the start of the employment they
leave): whoever starts it — HR in the UI or a terminal, the nightly sync — finds the one that
is there. Per subscription and per phone not on one of them an `OffboardingItem` says what
becomes of it (terminated, handed over to the successor, taken over privately); per item a
`ChecklistItem` for each thing someone must do and attest: the phone returned, its passcode
reset (§7.2, the employee), its factory reset (§8.1, the manager), the referral removed, the
directory entry removed or moved, the contact centre told (§8.1).

The register refuses to give a phone to somebody else before its factory reset is attested:
a trigger on `device` on both engines (migration 0010, `FACTORY_RESET_GATE`), whatever the
code that tries.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, created_ts, intpk, updated_ts
from models.register import Device, Employee, Subscription, _enum

OBJECT_TYPE = "offboarding"
REFERENCE_PREFIX = "AVS-"
FACTORY_RESET_GATE = "factory_reset_gate"
GATE_REFUSAL = (
    "factory_reset_gate: §8.1: telefonen ska fabriksåterställas innan den lämnas över, och "
    "chefen ansvarar för det; fabriksåterställningen är inte intygad, så telefonen lämnas "
    "inte över"
)


class Source(enum.StrEnum):
    HR = "hr"  # HR, in the Prefect UI or a terminal
    SYNC = "sync"  # the nightly sync: the employment ends soon, or the person left the export


class OffboardingStatus(enum.StrEnum):
    RECORDED = "recorded"  # the start is recorded; the plan is not made yet
    PLANNED = "planned"  # items and checklist made; the employee told
    CONFIRMING = "confirming"  # the manager is asked to confirm the sync's default (terminate)
    WAITING = "waiting"  # for the last working day
    CARRYING_OUT = "carrying_out"  # terminations, checklist, handovers
    COMPLETED = "completed"

    @property
    def closed(self) -> bool:
        return self is OffboardingStatus.COMPLETED


STATUS_SV = {
    OffboardingStatus.RECORDED: "registrerad",
    OffboardingStatus.PLANNED: "planerad",
    OffboardingStatus.CONFIRMING: "väntar på chefens bekräftelse",
    OffboardingStatus.WAITING: "väntar på sista arbetsdagen",
    OffboardingStatus.CARRYING_OUT: "genomförs",
    OffboardingStatus.COMPLETED: "klar",
}


class Disposition(enum.StrEnum):
    TERMINATE = "terminate"  # sägs upp hos operatören; telefonen tillbaka till lagret
    HAND_OVER = "hand_over"  # till efterträdaren, när fabriksåterställningen är intygad
    TAKEOVER = "takeover"  # den anställda tar över abonnemanget privat (§8.2)


DISPOSITION_SV = {
    Disposition.TERMINATE: "sägs upp",
    Disposition.HAND_OVER: "lämnas över till efterträdaren",
    Disposition.TAKEOVER: "privat övertagande",
}


class ItemStatus(enum.StrEnum):
    PLANNED = "planned"
    TERMINATING = "terminating"  # the termination's key is stored: it may be on its way
    TERMINATION_SENT = "termination_sent"  # the operator has it; not confirmed yet
    TERMINATED = "terminated"  # the operator confirmed: the subscription has ended
    HANDED_OVER = "handed_over"
    TAKEOVER_WAITING = "takeover_waiting"  # waits for the takeover process (§8.2)
    DONE = "done"  # the phone only (no subscription): returned and back in stock

    @property
    def settled(self) -> bool:
        return self in (
            ItemStatus.TERMINATED,
            ItemStatus.HANDED_OVER,
            ItemStatus.TAKEOVER_WAITING,
            ItemStatus.DONE,
        )


ITEM_STATUS_SV = {
    ItemStatus.PLANNED: "planerad",
    ItemStatus.TERMINATING: "uppsägning skickas",
    ItemStatus.TERMINATION_SENT: "uppsägning skickad, väntar på operatörens bekräftelse",
    ItemStatus.TERMINATED: "uppsagd",
    ItemStatus.HANDED_OVER: "överlämnad",
    ItemStatus.TAKEOVER_WAITING: "privat övertagande väntar på beslut",
    ItemStatus.DONE: "klar",
}


class DeviceOutcome(enum.StrEnum):
    STOCK = "stock"  # back in stock, for someone else
    SCRAPPED = "scrapped"  # kasserad, as the admin records


class Task(enum.StrEnum):
    """A thing to do and attest when an employment ends."""

    DEVICE_RETURNED = "device_returned"
    PASSCODE_RESET = "passcode_reset"
    FACTORY_RESET = "factory_reset"
    REFERRAL_REMOVED = "referral_removed"
    DIRECTORY_UPDATED = "directory_updated"
    CONTACT_CENTRE_INFORMED = "contact_centre_informed"


class Owner(enum.StrEnum):
    EMPLOYEE = "employee"  # the one who leaves
    MANAGER = "manager"  # their manager
    SYSTEM = "system"  # done by the flow itself, and attested by it


class Offboarding(Base):
    __tablename__ = "offboarding"
    __table_args__ = (UniqueConstraint("employee_id", "employment_start"),)

    id: Mapped[intpk]
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    # The employment that ends: one offboarding for it, whoever starts it and how often.
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id"), index=True)
    employment_start: Mapped[date]
    last_day: Mapped[date]  # the last working day; HR may move it
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    source: Mapped[Source] = mapped_column(_enum(Source, "offboarding_source"))
    started_by: Mapped[str] = mapped_column(String(50))  # employee number, user id or "sync"
    reason: Mapped[str | None] = mapped_column(String(200))  # why the sync started it
    status: Mapped[OffboardingStatus] = mapped_column(
        _enum(OffboardingStatus, "offboarding_status"), default=OffboardingStatus.RECORDED
    )
    # Dispositions asked for at the start (number or IMEI → Disposition), before the plan.
    wanted: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The run that carries it: made from this row, under this key, once.
    run_key: Mapped[str | None] = mapped_column(String(80), index=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    run_name: Mapped[str | None] = mapped_column(String(120))
    # The manager's confirmation of the sync's default (an ask), and the waits' rounds
    plan_ask_id: Mapped[int | None] = mapped_column(ForeignKey("ask.id"))
    wait_round: Mapped[int] = mapped_column(Integer, default=1)
    employee_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contact_centre_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    successor: Mapped[Employee | None] = relationship(foreign_keys=[successor_id])
    items: Mapped[list[OffboardingItem]] = relationship(
        back_populates="offboarding", order_by="OffboardingItem.id"
    )

    @property
    def reference(self) -> str:
        """The offboarding's name for people: AVS-000123."""
        return f"{REFERENCE_PREFIX}{self.id:06d}"

    def __repr__(self) -> str:
        return f"Offboarding({self.reference}, {self.status})"


class OffboardingItem(Base):
    """One subscription (with the phone on it), or one phone on no subscription of the leaver."""

    __tablename__ = "offboarding_item"
    __table_args__ = (
        UniqueConstraint("offboarding_id", "subscription_id"),
        UniqueConstraint("offboarding_id", "device_id"),
    )

    id: Mapped[intpk]
    offboarding_id: Mapped[int] = mapped_column(ForeignKey("offboarding.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscription.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    number: Mapped[str | None] = mapped_column(String(16))  # as it was, for people
    imei: Mapped[str | None] = mapped_column(String(15))
    disposition: Mapped[Disposition] = mapped_column(_enum(Disposition, "offboarding_disposition"))
    disposition_by: Mapped[str] = mapped_column(String(50))  # "HR", "förval" or a manager
    status: Mapped[ItemStatus] = mapped_column(
        _enum(ItemStatus, "offboarding_item_status"), default=ItemStatus.PLANNED
    )
    # The termination at the operator: its key stored before anything is sent.
    operator_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    channel: Mapped[str | None] = mapped_column(String(10))
    operator_reference: Mapped[str | None] = mapped_column(String(100))
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    device_outcome: Mapped[DeviceOutcome | None] = mapped_column(
        _enum(DeviceOutcome, "offboarding_device_outcome")
    )
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    offboarding: Mapped[Offboarding] = relationship(back_populates="items")
    subscription: Mapped[Subscription | None] = relationship()
    device: Mapped[Device | None] = relationship()
    checklist: Mapped[list[ChecklistItem]] = relationship(
        back_populates="item", order_by="ChecklistItem.id"
    )

    @property
    def what(self) -> str:
        """The item as people name it: the number, or the phone's IMEI."""
        if self.number:
            return self.number
        return f"telefon med IMEI {self.imei}" if self.imei else f"utrustning {self.id}"


class ChecklistItem(Base):
    """One thing to do and attest for one item, with its owner, due date and attestation."""

    __tablename__ = "checklist_item"
    __table_args__ = (UniqueConstraint("item_id", "task"),)

    id: Mapped[intpk]
    offboarding_id: Mapped[int] = mapped_column(ForeignKey("offboarding.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("offboarding_item.id"))
    # The phone it concerns (the gate reads it), None for a subscription's own tasks.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"), index=True)
    task: Mapped[Task] = mapped_column(_enum(Task, "checklist_task", length=30))
    rule: Mapped[str] = mapped_column(String(20))
    owner: Mapped[Owner] = mapped_column(_enum(Owner, "checklist_owner"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))  # None: the system
    due_on: Mapped[date]
    ask_id: Mapped[int | None] = mapped_column(ForeignKey("ask.id"), index=True)
    attested_by: Mapped[str | None] = mapped_column(String(50))  # employee number, or "system"
    attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_ts]

    item: Mapped[OffboardingItem] = relationship(back_populates="checklist")
    owner_person: Mapped[Employee | None] = relationship()

    @property
    def done(self) -> bool:
        return self.attested_at is not None


def reference_id(reference: str) -> int:
    """AVS-000123 (or 123) → 123; a clear error for anything else."""
    text = reference.strip().upper().removeprefix(REFERENCE_PREFIX)
    if not text.isdigit():
        raise ValueError(f"{reference!r} är ingen avslutsreferens (t.ex. AVS-000123)")
    return int(text)
