"""What the mechanism of people's steps tells people itself, whatever the kind of ask: a fresh
one-time code asked for, and the admin's notice of an ask locked after wrong codes. What an ask
of a kind says (the question, its reminders, its escalation) is that kind's own notice."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from models.asks import SYSTEM, Ask, shown
from models.notice import Notice
from models.register import Employee

CODE = "engangskod"
LOCKED = "arende-last"


def person(employee: Employee | None, number: str = "") -> str:
    """A person as people read them: "Anna Berg (E100)"."""
    if employee is None:
        return number or "okänd"
    return f"{employee.name} ({employee.employee_number})"


def fresh_code(
    ask: Ask,
    to: Employee,
    code: str,
    *,
    sent: int,
    run_url: str,
    admin_email: str,
    municipality: str,
) -> Notice | None:
    """A new code for `to`, who asked for one (None: they have no address)."""
    if not to.email:
        return None
    return Notice(
        CODE,
        f"ask-code:{ask.id}:{to.employee_number}:{sent}",
        to.email,
        {
            "name": to.first_name,
            "reference": ask.reference,
            "title": ask.title,
            "code": shown(code),
            "employee_number": to.employee_number,
            "run_url": run_url,
            "admin_email": admin_email,
            "municipality": municipality,
        },
        sealed=True,
    )


def locked(
    ask: Ask, who: str, *, admin_email: str, run_url: str, tz: ZoneInfo, municipality: str
) -> Notice:
    """The admin hears that an ask locked after too many wrong codes."""
    return Notice(
        LOCKED,
        f"ask-locked:{ask.id}:{ask.locked_at.isoformat() if ask.locked_at else ''}",
        admin_email,
        {
            "reference": ask.reference,
            "title": ask.title,
            "attempts": ask.failed_attempts,
            "who": who,
            "assignee": person(ask.assignee),
            "deadline": local(ask.due_at, tz),
            "run_url": run_url,
            "municipality": municipality,
        },
    )


def answered_by(ask: Ask) -> str:
    """ " (besvarat av Anna Berg den 2026-12-04)"-style tail, or "" for nobody."""
    if not ask.answered_by:
        return ""
    if ask.answered_by == SYSTEM:
        return " av systemet"
    return f" av {ask.answered_by}"


def local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
