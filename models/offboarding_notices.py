"""What an offboarding tells people (§7.2, §8.1, §8.2), as data for its templates.

As in `models.onboarding_notices`: each notice is a named template in `templates/`
(`<name>.subject.j2`, `.txt.j2`, `.html.j2`) and here is only what goes into it; the steps
queue it in the transaction of the change it tells of. The texts above the run's forms are
templates too (`<name>.md.j2`), rendered here. People are named "Anna Berg (E12)", phones by
number or IMEI; never a personnummer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.ask_notices import local, person
from models.notice import Notice
from models.offboarding import (
    DISPOSITION_SV,
    ChecklistItem,
    Disposition,
    Offboarding,
    OffboardingItem,
    Owner,
)
from models.offboarding_rules import OWNER_SV, TASK_SV
from models.outbox import render_markdown
from models.register import Employee

EMPLOYEE_LEAVING = "avslut-besked"  # to the employee at the start
PLAN_REQUEST = "avslut-bekrafta"  # to the manager: confirm the sync's plan (an ask)
CHECKLIST_REQUEST = "avslut-checklista"  # to an owner on the last day: what to attest (an ask)
CONTACT_CENTRE = "avslut-kontaktcenter"  # to the contact centre: what to register (§8.1)
PLAN_FORM = "avslut-planformular"
CHECKLIST_FORM = "avslut-checklistformular"
LAST_DAY_FORM = "avslut-vantar"
TERMINATION_FORM = "avslut-uppsagningar"  # markdown above the form for confirmed terminations
FORM_ROWS = 200  # the leavers a mail or form lists; a batch of summer workers may hold more


def employee_leaving(off: Offboarding, *, municipality: str) -> Notice | None:
    """The employee hears what becomes of each number and phone, and what to do on the last
    day (§7.2, §8.1, §8.2); None: they have no address."""
    employee = off.employee
    if not employee.email:
        return None
    dispositions = {i.disposition for i in off.items}
    return Notice(
        EMPLOYEE_LEAVING,
        f"offboarding-leaving:{off.reference}",
        employee.email,
        {
            "name": employee.first_name,
            "reference": off.reference,
            "last_day": off.last_day.isoformat(),
            "items": [_item(i, off) for i in off.items],
            "has_phone": any(i.imei for i in off.items),
            "takeover": Disposition.TAKEOVER in dispositions,
            "manager": person(employee.manager) if employee.manager else "",
            "municipality": municipality,
        },
    )


def plan_request(
    offs: Sequence[Offboarding],
    to: Employee,
    *,
    reminder: int,
    code: str | None,
    run_url: str,
    deadline: datetime,
    tz: ZoneInfo,
    municipality: str,
    escalated_from: Employee | None = None,
    ask_reference: str = "",
) -> Notice | None:
    """`to` is asked to confirm or change what the sync planned (everything terminated),
    reminded (`reminder` > 0), or asked as the manager's manager (`escalated_from`: the manager
    who did not answer); with their one-time code when one was made for this mail."""
    if not to.email:
        return None
    lead = offs[0]
    return Notice(
        PLAN_REQUEST,
        f"offboarding-plan:{lead.reference}:{_round(reminder, escalated_from)}"
        f":{to.employee_number}",
        to.email,
        {
            **_asking(to, reminder, code, run_url, deadline, tz, escalated_from, ask_reference),
            "reference": lead.reference,
            "count": len(offs),
            "leaver": person(lead.employee),
            "leavers": [
                {
                    "reference": o.reference,
                    "person": person(o.employee),
                    "last_day": o.last_day.isoformat(),
                    "items": [_what(i) for i in o.items],
                }
                for o in offs[:FORM_ROWS]
            ],
            "more": max(len(offs) - FORM_ROWS, 0),
            "municipality": municipality,
        },
        sealed=code is not None,
    )


def checklist_request(
    items: Sequence[ChecklistItem],
    to: Employee,
    *,
    reminder: int,
    code: str | None,
    run_url: str,
    deadline: datetime,
    tz: ZoneInfo,
    municipality: str,
    escalated_from: Employee | None = None,
    ask_reference: str = "",
) -> Notice | None:
    """`to` is asked to do and attest what is theirs on the checklist: the manager the phone's
    return and factory reset (§8.1), the employee the passcode's reset (§7.2)."""
    if not to.email:
        return None
    off = items[0].item.offboarding
    owners = {c.owner for c in items}
    return Notice(
        CHECKLIST_REQUEST,
        f"offboarding-checklist:{off.reference}:{_round(reminder, escalated_from)}"
        f":{to.employee_number}",
        to.email,
        {
            **_asking(to, reminder, code, run_url, deadline, tz, escalated_from, ask_reference),
            "reference": off.reference,
            "leaver": person(off.employee),
            "last_day": off.last_day.isoformat(),
            "tasks": [_task(c, to) for c in items],
            "manager": Owner.MANAGER in owners,
            "employee": Owner.EMPLOYEE in owners,
            "municipality": municipality,
        },
        sealed=code is not None,
    )


def contact_centre(off: Offboarding, *, to: str, municipality: str) -> Notice:
    """The contact centre hears what to register in the directory (§8.1): per number, whether
    it ends, goes to the successor, or waits for the manager's decision on a takeover (§8.2)."""
    employee = off.employee
    return Notice(
        CONTACT_CENTRE,
        f"offboarding-contact-centre:{off.reference}",
        to,
        {
            "reference": off.reference,
            "leaver": person(employee),
            "last_day": off.last_day.isoformat(),
            "ends_on": (off.last_day + timedelta(days=1)).isoformat(),
            "numbers": [
                {"number": i.number, "disposition": i.disposition.value}
                for i in off.items
                if i.number
            ],
            "successor": person(off.successor) if off.successor else "",
            "handed_over": any(
                i.number and i.disposition is Disposition.HAND_OVER for i in off.items
            ),
            "municipality": municipality,
        },
    )


def plan_form(offs: Sequence[Offboarding], *, municipality: str) -> str:
    """Markdown above the manager's confirmation: each leaver's numbers and phones, and the
    sync's default (terminated) for each."""
    return render_markdown(
        PLAN_FORM,
        {
            "count": len(offs),
            "rows": [
                {
                    "reference": o.reference,
                    "person": person(o.employee),
                    "last_day": o.last_day.isoformat(),
                    **_item(i, o),
                }
                for o in offs[:FORM_ROWS]
                for i in o.items
            ],
            "more": max(len(offs) - FORM_ROWS, 0),
            "municipality": municipality,
        },
    )


def checklist_form(items: Sequence[ChecklistItem], *, municipality: str) -> str:
    """Markdown above the attestation form: what is still open, per owner."""
    open_ = [c for c in items if not c.done and c.owner is not Owner.SYSTEM]
    owners: dict[str, list[dict[str, Any]]] = {}
    for c in open_:
        who = f"{_first_up(OWNER_SV[c.owner])}, {person(c.owner_person)}"
        owners.setdefault(who, []).append(_task(c, c.owner_person))
    return render_markdown(
        CHECKLIST_FORM,
        {
            "references": sorted({c.item.offboarding.reference for c in items}),
            "owners": owners,
            "municipality": municipality,
        },
    )


def last_day_form(offs: Sequence[Offboarding], *, municipality: str) -> str:
    """Markdown above the empty form of a run that waits for the last working day."""
    return render_markdown(
        LAST_DAY_FORM,
        {
            "waiting": [
                {
                    "reference": o.reference,
                    "person": person(o.employee),
                    "last_day": o.last_day.isoformat(),
                }
                for o in sorted(offs, key=lambda o: (o.last_day, o.id))[:FORM_ROWS]
            ],
            "more": max(len(offs) - FORM_ROWS, 0),
            "municipality": municipality,
        },
    )


def termination_form(items: Sequence[OffboardingItem], *, municipality: str) -> str:
    """Markdown above the form where a person registers the terminations the operator has
    confirmed (the e-mail channel)."""
    return render_markdown(
        TERMINATION_FORM,
        {
            "waiting": [
                {
                    "number": i.number,
                    "reference": i.offboarding.reference,
                    "person": person(i.offboarding.employee),
                }
                for i in items[:FORM_ROWS]
            ],
            "more": max(len(items) - FORM_ROWS, 0),
            "municipality": municipality,
        },
    )


def _round(reminder: int, escalated_from: Employee | None) -> str:
    """The ask's round, in a mail's identity: one mail per (round, person)."""
    return "escalated" if escalated_from is not None else str(reminder)


def _asking(
    to: Employee,
    reminder: int,
    code: str | None,
    run_url: str,
    deadline: datetime,
    tz: ZoneInfo,
    escalated_from: Employee | None,
    ask_reference: str,
) -> dict[str, Any]:
    """What every ask's mail says of the asking itself: who, which round, the code, where."""
    return {
        "name": to.first_name,
        "employee_number": to.employee_number,
        "reminder": reminder > 0,
        "escalated": escalated_from is not None,
        "escalated_from": person(escalated_from) if escalated_from else "",
        "code": code,
        "run_url": run_url,
        "deadline": local(deadline, tz),
        "ask_reference": ask_reference,
    }


def _what(item: OffboardingItem) -> str:
    """A number or phone as people find it: "+46701234567 (telefon med IMEI …)"."""
    if item.number and item.imei:
        return f"{item.number} (telefon med IMEI {item.imei})"
    return item.what


def _item(item: OffboardingItem, off: Offboarding) -> dict[str, str]:
    """One number or phone and what becomes of it, to whom if handed over."""
    to = ""
    if item.disposition is Disposition.HAND_OVER and off.successor is not None:
        to = person(off.successor)
    return {"what": _what(item), "disposition": DISPOSITION_SV[item.disposition], "to": to}


def _task(c: ChecklistItem, reader: Employee | None) -> dict[str, str]:
    """One thing to do and attest; whose phone only when it is not the reader's own."""
    leaver = c.item.offboarding.employee
    return {
        "task": _first_up(TASK_SV[c.task]),
        "rule": c.rule,
        "what": _what(c.item),
        "whose": "" if reader is not None and leaver.id == reader.id else person(leaver),
        "due_on": c.due_on.isoformat(),
    }


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]
