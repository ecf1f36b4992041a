"""What waits for whom: the open asks, oldest first, as people read them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.ask_notices import local, person
from models.asks import Ask, AskStatus
from models.register import Employee, Municipality


@dataclass(frozen=True)
class Pending:
    """One open ask, as `telefoni pending` and the reminders run's table show it."""

    reference: str
    municipality: str
    title: str
    waits_for: str  # whom it asks (and the manager's manager, once escalated)
    asked: str
    due: str
    state: str  # "väntar", "påmind 2 gånger", "eskalerad", "låst"
    run_url: str

    def row(self) -> dict[str, str]:
        return {
            "ärende": self.reference,
            "kommun": self.municipality,
            "gäller": self.title,
            "väntar på": self.waits_for,
            "frågat": self.asked,
            "senast": self.due,
            "läge": self.state,
            "körning": self.run_url,
        }


def pending(
    session: Session,
    *,
    municipality_ids: Collection[int],
    deputies: Mapping[int, Collection[str]],
    ui_url: str,
    tz: ZoneInfo,
    as_: str | None = None,
    now: datetime | None = None,
) -> list[Pending]:
    """The open asks of these municipalities, oldest first; with `as_` (an employee number)
    only those that person may answer: asked, escalated to, or a deputy of its municipality."""
    asks = session.scalars(
        select(Ask)
        .where(Ask.status == AskStatus.OPEN, Ask.municipality_id.in_(list(municipality_ids)))
        .order_by(Ask.asked_at, Ask.id)
        .options(selectinload(Ask.assignee), selectinload(Ask.escalated_to))
    ).all()
    names = dict(session.execute(select(Municipality.id, Municipality.name)).tuples().all())
    who = (as_ or "").strip()
    rows = []
    for ask in asks:
        numbers = {p.employee_number for p in (ask.assignee, ask.escalated_to) if p is not None}
        deputy = who in set(deputies.get(ask.municipality_id, ()))
        if who and who not in numbers and not deputy:
            continue
        rows.append(
            Pending(
                reference=ask.reference,
                municipality=names.get(ask.municipality_id, ""),
                title=ask.title,
                waits_for=_waits_for(ask, deputy_asking=deputy and who not in numbers),
                asked=local(ask.asked_at, tz),
                due=local(ask.due_at, tz),
                state=_state(ask, now),
                run_url=f"{ui_url.rstrip('/')}/runs/flow-run/{ask.flow_run_id}"
                if ask.flow_run_id
                else "",
            )
        )
    return rows


def _waits_for(ask: Ask, *, deputy_asking: bool) -> str:
    people = [person(ask.assignee)] if ask.assignee else ["ingen chef"]
    if ask.escalated_to is not None:
        people.append(f"chefens chef {person(ask.escalated_to)}")
    text = " och ".join(people)
    return f"{text} (du som ersättare)" if deputy_asking else text


def _state(ask: Ask, now: datetime | None) -> str:
    if ask.locked_at is not None:
        return "låst (för många felaktiga koder)"
    parts = []
    if now is not None and now >= ask.due_at:
        parts.append("tidsfristen har passerat")
    if ask.escalated_at is not None:
        parts.append("eskalerad")
    if ask.reminders_sent:
        parts.append(
            f"påmind {ask.reminders_sent} {'gång' if ask.reminders_sent == 1 else 'gånger'}"
        )
    return ", ".join(parts) or "väntar"


def employee_named(
    session: Session, municipality_ids: Collection[int], number: str
) -> list[Employee]:
    """The employees with this number in these municipalities (one per municipality at most)."""
    return list(
        session.scalars(
            select(Employee).where(
                Employee.municipality_id.in_(list(municipality_ids)),
                Employee.employee_number == number.strip(),
            )
        )
    )
