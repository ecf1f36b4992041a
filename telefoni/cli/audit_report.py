"""The audit trail as people read it: a table in the terminal, a CSV file for an auditor."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from models.asks import OBJECT_TYPE as ASK
from models.asks import Ask
from models.audit import HASHED_FIELDS, OPTIONALLY_HASHED, AuditEvent, history, of_municipality
from models.offboarding import OBJECT_TYPE as OFFBOARDING
from models.offboarding import Offboarding
from models.register import Device, Employee, Municipality

CSV_COLUMNS = (*HASHED_FIELDS, *OPTIONALLY_HASHED, "hash")
OBJECT_TYPES = {"employee": "anställd", "subscription": "abonnemang", "device": "enhet"}


def resolve_device(session: Session, id_or_imei: str) -> str:
    """A device is audited by its register id; accept an IMEI too."""
    found = session.scalar(select(Device.id).where(Device.imei == id_or_imei))
    return str(found) if found is not None else id_or_imei


def changes(before: str | None, after: str | None) -> str:
    """'field: old → new' for every field that differs."""
    old = json.loads(before) if before else {}
    new = json.loads(after) if after else {}
    parts = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            parts.append(f"{key}: {old.get(key, '–')} → {new.get(key, '–')}")
    return "; ".join(parts)


def readable_rows(events: Sequence[AuditEvent], tz: ZoneInfo) -> list[dict[str, str]]:
    return [
        {
            "Nr": str(e.seq),
            "Tid": e.occurred_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            "Vem": f"{e.actor_type}:{e.actor_id}",
            "Händelse": e.action,
            "Regel": e.rule or "",
            "Orsak": e.reason or "",
            "Ändringar": changes(e.before, e.after),
        }
        for e in events
    ]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula is text to an auditor, never something Excel runs.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def write_csv(events: Sequence[AuditEvent], path: Path) -> None:
    """All fields, hashes included, as `;`-separated UTF-8 with BOM (opens in Swedish Excel)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(CSV_COLUMNS)
        for e in events:
            writer.writerow(
                _cell(getattr(e, c).isoformat() if c == "occurred_at" else getattr(e, c))
                for c in CSV_COLUMNS
            )


def object_history(
    session: Session,
    object_type: str | None,
    object_id: str | None,
    *,
    municipality: str | None = None,
    last: int | None = None,
) -> list[AuditEvent]:
    """The events of one object (every object, if None); ``municipality``: only that one's
    (by code; none if the register has never known it)."""
    if object_type == "device" and object_id is not None:
        object_id = resolve_device(session, object_id)
    where: ColumnElement[bool] | None = None
    municipality_id: int | None = None
    if municipality is not None:
        row = session.scalar(select(Municipality).where(Municipality.code == municipality))
        if row is None:
            return []
        where = of_municipality(row.id, row.audit_through)
        municipality_id = row.id
    if object_type == "employee" and object_id is not None:
        story = employee_story(session, object_id, municipality_id)
        where = story if where is None else and_(where, story)
        return history(session, object_type=None, object_id=None, where=where, last=last)
    return history(session, object_type=object_type, object_id=object_id, where=where, last=last)


def employee_story(
    session: Session, employee_number: str, municipality_id: int | None
) -> ColumnElement[bool]:
    """The events of an employee's story: their own, and those of their offboardings and of
    the asks the offboardings put to people (who answered, a wrong code), as one story."""
    people = select(Employee.id).where(Employee.employee_number == employee_number)
    if municipality_id is not None:
        people = people.where(Employee.municipality_id == municipality_id)
    references = [
        o.reference
        for o in session.scalars(select(Offboarding).where(Offboarding.employee_id.in_(people)))
    ]
    asked = or_(
        Ask.object_id.in_(references), *(Ask.object_id.startswith(f"{r}/") for r in references)
    )
    asks = [
        a.reference
        for a in session.scalars(select(Ask).where(Ask.object_type == OFFBOARDING, asked))
    ]
    own = and_(AuditEvent.object_type == "employee", AuditEvent.object_id == employee_number)
    return or_(
        own,
        and_(AuditEvent.object_type == OFFBOARDING, AuditEvent.object_id.in_(references)),
        and_(AuditEvent.object_type == ASK, AuditEvent.object_id.in_(asks)),
    )
