"""A person's step ("ärende"): one question put to a person, whatever the process.

An onboarding order waits for its manager's decision, an offboarding checklist for a manager's
attested factory reset, a lost phone for an employee's police-report number: each of these is
an `Ask`, with whom it asks, who else may answer, when it is due, the reminders sent, the
escalation, the answer and who gave it. What happens at the deadline is the ask's own
(`AtDeadline`). Whoever answers proves it with a one-time code e-mailed to them (`AskCode`,
kept only as a keyed hash). The rules here are pure: when to remind, escalate or apply the
deadline, who may answer, what a code hashes to.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, created_ts, intpk, updated_ts
from models.register import Employee, _enum

OBJECT_TYPE = "ask"
SYSTEM = "system"  # who "answered" when the deadline did


class AskStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"  # a person answered
    EXPIRED = "expired"  # the deadline's outcome was applied
    WITHDRAWN = "withdrawn"  # what it asked about went away (e.g. the order was refused)

    @property
    def closed(self) -> bool:
        return self is not AskStatus.OPEN


class AtDeadline(enum.StrEnum):
    """What the deadline does to an ask nobody answered."""

    REJECT = "reject"  # an order is rejected
    DENY = "deny"  # a request is denied
    ESCALATE = "escalate"  # nothing is decided: the manager's manager is asked, and it waits
    KEEP = "keep"  # what was planned stands (the manager was asked to confirm or change it)


STATUS_SV = {
    AskStatus.OPEN: "väntar på svar",
    AskStatus.ANSWERED: "besvarat",
    AskStatus.EXPIRED: "tidsfristen passerade",
    AskStatus.WITHDRAWN: "återkallat",
}
AT_DEADLINE_SV = {
    AtDeadline.REJECT: "avslås",
    AtDeadline.DENY: "nekas",
    AtDeadline.ESCALATE: "går till chefens chef",
    AtDeadline.KEEP: "det planerade gäller",
}
# What the deadline did, as its audit event and the answer's comment say it.
AT_DEADLINE_DONE_SV = {
    AtDeadline.REJECT: "automatiskt avslag",
    AtDeadline.DENY: "automatiskt nej",
    AtDeadline.ESCALATE: "ingen svarade",
    AtDeadline.KEEP: "det planerade gäller",
}


class Ask(Base):
    __tablename__ = "ask"
    __table_args__ = (UniqueConstraint("kind", "object_type", "object_id"),)

    id: Mapped[intpk]
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. "onboarding_approval"
    # What it is about, as the audit trail names it (the batch's first order, a checklist item …)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))  # what people read, in Swedish
    rule: Mapped[str] = mapped_column(String(20))  # the guideline's §
    status: Mapped[AskStatus] = mapped_column(
        _enum(AskStatus, "ask_status"), default=AskStatus.OPEN, index=True
    )
    # Whom it asks; who else may answer: the municipality's deputies, and once escalated the
    # assignee's manager.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    flow_run_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the run that waits
    # Time
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remind_every_hours: Mapped[float] = mapped_column(Float)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: never
    at_deadline: Mapped[AtDeadline] = mapped_column(_enum(AtDeadline, "ask_at_deadline"))
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Proof of who answers
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The answer
    answer: Mapped[str | None] = mapped_column(String(40))
    answer_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(50))  # employee number, or "system"
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    woken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the run was told
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    assignee: Mapped[Employee | None] = relationship(foreign_keys=[assignee_id])
    escalated_to: Mapped[Employee | None] = relationship(foreign_keys=[escalated_to_id])

    @property
    def reference(self) -> str:
        """The ask's name for people: ÄR-000012."""
        return f"ÄR-{self.id:06d}"

    def __repr__(self) -> str:
        return f"Ask({self.reference}, {self.kind}, {self.status})"


class AskCode(Base):
    """A one-time code sent to one person for one ask: only its keyed hash is kept."""

    __tablename__ = "ask_code"

    id: Mapped[intpk]
    ask_id: Mapped[int] = mapped_column(ForeignKey("ask.id"), index=True)
    employee_number: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a newer code was sent


def reference_id(reference: str) -> int:
    """ÄR-000012 (or AR-12, or 12) → 12; a clear error for anything else."""
    text = reference.strip().upper()
    for prefix in ("ÄR-", "AR-"):
        text = text.removeprefix(prefix)
    if not text.isdigit():
        raise ValueError(f"{reference!r} är ingen ärendereferens (t.ex. ÄR-000012)")
    return int(text)


# --- Time: what is due --------------------------------------------------------------------


class Due(enum.Enum):
    NOTHING = "nothing"
    REMIND = "remind"
    ESCALATE = "escalate"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True)
class Timing:
    """How long a kind of ask waits, per municipality."""

    deadline: timedelta
    remind_every: timedelta
    escalate_after: timedelta | None  # None: never escalated before the deadline


def due(ask: Ask, now: datetime) -> Due:
    """What an open ask needs now: the deadline before the escalation before a reminder."""
    escalated = ask.escalated_at is not None
    if now >= ask.due_at:
        if ask.at_deadline is not AtDeadline.ESCALATE:
            return Due.DEADLINE
        if not escalated:
            return Due.ESCALATE
    elif ask.escalate_at is not None and now >= ask.escalate_at and not escalated:
        return Due.ESCALATE
    every = timedelta(hours=ask.remind_every_hours)
    if now >= ask.asked_at + every * (ask.reminders_sent + 1):
        return Due.REMIND
    return Due.NOTHING


# --- Who may answer ------------------------------------------------------------------------


def may_answer(
    who: str, *, assignee: str | None, escalated_to: str | None, deputies: Collection[str]
) -> bool:
    """The person asked, the manager it was escalated to, or a deputy of the municipality."""
    who = who.strip()
    return bool(who) and who in {n for n in (assignee, escalated_to, *deputies) if n}


# --- One-time codes ------------------------------------------------------------------------

CODE_DIGITS = 8


def new_code() -> str:
    """A fresh one-time code: eight random digits."""
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def shown(code: str) -> str:
    """A code as a mail shows it: 1234 5678."""
    return f"{code[:4]} {code[4:]}"


def typed(text: str) -> str:
    """A code as typed, without the spaces and dashes people put in it."""
    return "".join(ch for ch in text if ch.isdigit())


def code_hash(key: bytes, *, ask_id: int, employee_number: str, code: str) -> str:
    """The keyed hash a code is kept as: bound to its ask and its person."""
    message = f"{ask_id}\0{employee_number.strip()}\0{typed(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def code_matches(key: bytes, stored: str, *, ask_id: int, employee_number: str, code: str) -> bool:
    return hmac.compare_digest(
        stored, code_hash(key, ask_id=ask_id, employee_number=employee_number, code=code)
    )


def masked_email(address: str | None) -> str:
    """a.berg@sjobacka.example → a***@sjobacka.example (where a code went, not all of it)."""
    if not address or "@" not in address:
        return "ingen adress"
    local, domain = address.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"
