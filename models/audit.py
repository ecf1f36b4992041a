"""The audit trail: append-only events chained by SHA-256, written in the caller's transaction.

Each event's hash covers a canonical form of all its fields, including its sequence number and
the previous event's hash, so editing, deleting, reordering or inserting an event breaks the
chain where it happened. `audit_head` holds the last sequence number and hash: appends lock
it first (so concurrent writers queue and never fork the chain), and `verify` compares the
chain's end against it (so removing the newest event shows too). The database refuses UPDATE
and DELETE on `audit_event` (triggers, migration 0002).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Index,
    String,
    Table,
    Text,
    and_,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, UTCDateTime, utcnow
from models.personnummer import InvalidPersonnummer, parse_personnummer

GENESIS_HASH = "0" * 64
MASK = "****"

# Between date and serial: '-', '+' or a space as parse_personnummer takes them, and what a
# word processor or a web page puts there instead (a non-breaking space or hyphen, a hyphen,
# a figure or en dash, a minus sign).
_SEPARATORS = "-+ \u00a0\u2010\u2011\u2012\u2013\u2212"
# 10 or 12 digits with an optional separator: the shape of a personnummer.
_PNR_LIKE = re.compile(rf"(?<!\d)(\d{{2}})?(\d{{6}})([{_SEPARATORS}]?)(\d{{4}})(?!\d)")
_SENSITIVE_KEYS = ("personnummer", "pnr", "personal_identity")


class ActorType(enum.StrEnum):
    PERSON = "person"
    FLOW_RUN = "flow_run"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a person (employee number or user id), a flow run, or the system."""

    type: ActorType
    id: str

    @classmethod
    def person(cls, identity: str) -> Actor:
        return cls(ActorType.PERSON, identity)

    @classmethod
    def flow_run(cls, run_id: str) -> Actor:
        return cls(ActorType.FLOW_RUN, run_id)

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls(ActorType.SYSTEM, component)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One thing that happened, before it is chained."""

    actor: Actor
    action: str
    object_type: str
    object_id: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str | None = None
    rule: str | None = None
    flow_run_id: str | None = None
    municipality_id: int | None = None  # whose people it concerns; None: the installation's


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(100))
    before: Mapped[str | None] = mapped_column(Text)  # canonical JSON, masked
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(String(20))
    flow_run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # The municipality whose people the event concerns (no foreign key: the trail outlives
    # what it tells of). Hashed when set: the events from before it existed verify as written.
    municipality_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The end of the chain: one row, locked by every append."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


_EVENTS = cast(Table, AuditEvent.__table__)


# --- pure parts -------------------------------------------------------------------------------


def mask_personnummer(text: str) -> str:
    """Replace every valid personnummer in `text` with its masked form (date part kept)."""

    def _mask(m: re.Match[str]) -> str:
        century, date_part, separator, serial = m.groups()
        # '+' (100 or older) tells the century only in the 10-digit form; any other mark is '-'.
        mark = "+" if separator == "+" and century is None else "-"
        try:
            parse_personnummer(f"{century or ''}{date_part}{mark}{serial}")
        except InvalidPersonnummer:
            return m.group(0)  # a phone number or an id that merely looks alike
        return f"{century or ''}{date_part}-{MASK}"

    return _PNR_LIKE.sub(_mask, text)


def masked(value: Any) -> Any:
    """A JSON-ready copy of `value` with personnummer masked and secrets left out."""
    if isinstance(value, str):
        return mask_personnummer(value)
    if isinstance(value, Mapping):
        return {str(k): (MASK if _sensitive(k) else masked(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [masked(v) for v in value]
    if isinstance(value, bytes):
        return "<binärt värde utelämnat>"
    if isinstance(value, enum.Enum):
        return masked(value.value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_personnummer(str(value))


@functools.lru_cache(maxsize=1024)
def _sensitive(key: Any) -> bool:
    return any(s in str(key).lower() for s in _SENSITIVE_KEYS)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(fields: Mapping[str, Any], *, occurred_at: str | None = None) -> str:
    """SHA-256 over the canonical form of an event's fields (prev_hash included);
    ``occurred_at``: the event's time as hashed, if already at hand."""
    content = {k: fields[k] for k in HASHED_FIELDS}
    content["occurred_at"] = occurred_at or _timestamp(content["occurred_at"])
    content |= {k: fields[k] for k in OPTIONALLY_HASHED if fields.get(k) is not None}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_type",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "reason",
    "rule",
    "flow_run_id",
    "prev_hash",
)
# Hashed when not None (events from before the field was added hash without it).
OPTIONALLY_HASHED = ("municipality_id",)


def chain(
    records: Sequence[AuditRecord], *, last_seq: int, last_hash: str, at: datetime
) -> list[dict[str, Any]]:
    """Rows for `records`, numbered and chained after (last_seq, last_hash)."""
    rows = []
    stamp = _timestamp(at)
    for offset, r in enumerate(records, start=1):
        row: dict[str, Any] = {
            "seq": last_seq + offset,
            "occurred_at": at,
            "actor_type": r.actor.type.value,
            "actor_id": r.actor.id,
            "action": r.action,
            "object_type": r.object_type,
            "object_id": mask_personnummer(r.object_id),
            "before": None if r.before is None else canonical_json(masked(r.before)),
            "after": None if r.after is None else canonical_json(masked(r.after)),
            "reason": None if r.reason is None else mask_personnummer(r.reason),
            "rule": r.rule,
            "flow_run_id": r.flow_run_id,
            "municipality_id": r.municipality_id,
            "prev_hash": last_hash,
        }
        row["hash"] = last_hash = event_hash(row, occurred_at=stamp)
        rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking the chain; `bad_seq` is the first event that is not as written."""

    checked: int
    bad_seq: int | None = None
    problem: str | None = None
    last_hash: str | None = None  # the end of an intact chain: worth keeping elsewhere

    @property
    def intact(self) -> bool:
        return self.bad_seq is None


def check_chain(events: Iterable[Mapping[str, Any]], *, head_seq: int, head_hash: str) -> Verdict:
    """Walk the events in sequence order and name the first one that was tampered with."""
    expected_seq, prev_hash, prev_prev_hash = 1, GENESIS_HASH, None
    checked = 0
    for e in events:
        seq = e["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                return Verdict(checked, expected_seq, "händelsen saknas (raderad)")
            return Verdict(checked, seq, "händelsen står i fel ordning eller finns två gånger")
        if e["prev_hash"] != prev_hash:
            if prev_prev_hash is not None and e["prev_hash"] == prev_prev_hash:
                return Verdict(checked, seq - 1, "händelsen har infogats: kedjan går förbi den")
            return Verdict(checked, seq, "kedjan bryts: föregående hash stämmer inte")
        if event_hash(e) != e["hash"]:
            return Verdict(checked, seq, "innehållet har ändrats (hashen stämmer inte)")
        prev_prev_hash, prev_hash = prev_hash, e["hash"]
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if last_seq < head_seq:
        return Verdict(checked, last_seq + 1, "händelsen saknas i slutet av kedjan (raderad)")
    if last_seq > head_seq:
        return Verdict(checked, head_seq + 1, "händelsen står efter kedjans registrerade slut")
    if prev_hash != head_hash:
        return Verdict(checked, head_seq, "kedjans slut stämmer inte med registrerat slut")
    return Verdict(checked, last_hash=prev_hash)


# --- database parts (the caller owns the transaction) -----------------------------------------


def record_many(session: Session, records: Sequence[AuditRecord]) -> list[int]:
    """Append events in order, in the caller's transaction; returns their sequence numbers."""
    if not records:
        return []
    # Lock the head row first: a concurrent writer waits here until this transaction ends.
    last_seq, last_hash = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_seq=AuditHead.last_seq)
        .returning(AuditHead.last_seq, AuditHead.last_hash)
    ).one()
    rows = chain(records, last_seq=last_seq, last_hash=last_hash, at=utcnow())
    session.execute(insert(_EVENTS), rows)  # Core: plain rows, no ORM bookkeeping per row
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_seq=rows[-1]["seq"], last_hash=rows[-1]["hash"])
    )
    return [r["seq"] for r in rows]


def record(session: Session, **fields: Any) -> int:
    """Append one event (fields as in `AuditRecord`); returns its sequence number."""
    return record_many(session, [AuditRecord(**fields)])[0]


def verify(session: Session, *, batch: int = 5000) -> Verdict:
    """Recompute the whole chain from the database."""
    head_seq, head_hash = session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == 1)
    ).one()
    columns = [getattr(AuditEvent, f) for f in (*HASHED_FIELDS, *OPTIONALLY_HASHED, "hash")]
    result = session.execute(
        select(*columns).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    )
    rows: Iterable[Mapping[str, Any]] = (dict(row._mapping) for row in result)
    return check_chain(rows, head_seq=head_seq, head_hash=head_hash)


def of_municipality(municipality_id: int, audit_through: int | None) -> ColumnElement[bool]:
    """The events of one municipality: its own, and, for the municipality a register from
    before municipalities was put in, the events written then (up to ``audit_through``)."""
    own = AuditEvent.municipality_id == municipality_id
    if audit_through is None:
        return own
    return or_(own, and_(AuditEvent.municipality_id.is_(None), AuditEvent.seq <= audit_through))


def history(
    session: Session,
    *,
    object_type: str | None,
    object_id: str | None,
    where: ColumnElement[bool] | None = None,
    last: int | None = None,
) -> list[AuditEvent]:
    """Every event about one object (any, if None), oldest first; ``where``: only these (e.g.
    `of_municipality`); ``last``: only the newest so many."""
    stmt = select(AuditEvent)
    if object_type is not None:
        stmt = stmt.where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
    if where is not None:
        stmt = stmt.where(where)
    if last is not None:
        newest = list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(last)))
        return newest[::-1]
    return list(session.scalars(stmt.order_by(AuditEvent.seq)))
