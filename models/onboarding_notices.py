"""What the onboarding order tells people (§3.1, §4, §6.1, §7.2), as data for its templates.

Each notice is a named template in `templates/` (`<name>.subject.j2`, `.txt.j2`, `.html.j2`)
and here is only what goes into it: a `Notice` says which template, to whom, under which
identity, with which values. The steps queue it (`models.outbox.enqueue`) in the transaction
of the change it tells of. The texts above the approval and delivery forms are templates too
(`<name>.md.j2`), rendered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from models.notice import Notice
from models.onboarding import OnboardingOrder
from models.outbox import render_markdown
from models.register import Employee

APPROVAL_REQUEST = "beslutsbegaran"  # to the manager; again as each reminder
DECISION = "beslutsbesked"  # to whoever ordered: approved or rejected, and by whom
NEW_NUMBERS = "nya-mobilnummer"  # to the contact centre (§3.1)
PHONE_READY = "mobilen-klar"  # to the employee: the number, the passcode rule (§7.2)
APPROVAL_FORM = "beslutsformular"
DELIVERY_FORM = "leveransformular"
FORM_ROWS = 200  # the orders a form lists; a batch may hold more


def approval_request(
    orders: Sequence[OnboardingOrder],
    to: Employee | None,
    *,
    run_url: str,
    deadline: datetime,
    tz: ZoneInfo,
    reminder: int,
    municipality: str,
    code: str | None = None,
    escalated_from: Employee | None = None,
) -> Notice | None:
    """`to` is asked to decide (`reminder` 0), reminded, or (`escalated_from`: the manager who
    did not answer) asked as the manager's manager; with their one-time code when one was
    made for this mail. None: no address to ask."""
    if to is None or not to.email:
        return None
    lead = orders[0]
    key = "escalated" if escalated_from is not None else str(reminder)
    if lead.approver_id not in (None, to.id) and escalated_from is None:
        key += f":{to.employee_number}"  # a reminder to the manager's manager: a mail of its own
    return Notice(
        APPROVAL_REQUEST,
        f"onboarding-approval:{lead.reference}:{key}",
        to.email,
        {
            "name": to.first_name,
            "employee_number": to.employee_number,
            "reminder": reminder > 0,
            "escalated": escalated_from is not None,
            "manager_name": escalated_from.name if escalated_from else "",
            "code": code,
            "reference": lead.reference,
            "count": len(orders),
            "employee_name": lead.employee.name,
            "run_url": run_url,
            "deadline": deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            "municipality": municipality,
        },
        sealed=code is not None,
    )


def decision(
    orders: Sequence[OnboardingOrder],
    requester: Employee | None,
    *,
    approved: bool,
    by: str,
    comment: str | None,
    municipality: str,
) -> Notice | None:
    """Whoever ordered hears what was decided; None: they have no address."""
    if requester is None or not requester.email:
        return None
    lead = orders[0]
    return Notice(
        DECISION,
        f"onboarding-decision:{lead.reference}",
        requester.email,
        {
            "name": requester.first_name,
            "reference": lead.reference,
            "others": len(orders) - 1,
            "approved": approved,
            "by": by,
            "comment": comment,
            "municipality": municipality,
        },
    )


def new_numbers(
    lead: OnboardingOrder, done: Sequence[OnboardingOrder], *, recipient: str, municipality: str
) -> Notice:
    """The contact centre hears of the batch's new numbers (§3.1)."""
    return Notice(
        NEW_NUMBERS,
        f"onboarding-directory:{lead.reference}:{done[0].reference}",
        recipient,
        {
            "count": len(done),
            "rows": [
                {
                    "name": o.employee.name,
                    "employee_number": o.employee.employee_number,
                    "unit": o.employee.unit.name,
                    "number": o.number,
                }
                for o in done
            ],
            "municipality": municipality,
        },
    )


def phone_ready(order: OnboardingOrder, *, municipality: str) -> Notice | None:
    """The employee hears that the phone is ready (§7.2); None: they have no address."""
    employee = order.employee
    if not employee.email:
        return None
    return Notice(
        PHONE_READY,
        f"onboarding-welcome:{order.reference}",
        employee.email,
        {
            "name": employee.first_name,
            "employee_name": employee.name,
            "employee_number": employee.employee_number,
            "reference": order.reference,
            "model": order.phone_model_name,
            "number": order.number,
            "municipality": municipality,
        },
    )


def approval_form(orders: Sequence[OnboardingOrder], *, municipality: str = "") -> str:
    """Markdown above the approval form: what is asked for, warnings, apps to decide on."""
    return render_markdown(
        APPROVAL_FORM,
        {
            "municipality": municipality,
            "count": len(orders),
            "orders": [
                {
                    "reference": o.reference,
                    "employee_name": o.employee.name,
                    "employee_number": o.employee.employee_number,
                    "need_category": o.need_category,
                    "model": o.phone_model_name,
                    "option": o.subscription_option_code,
                    "headset": o.headset,
                    "apps": o.apps,
                }
                for o in orders[:FORM_ROWS]
            ],
            "more": max(len(orders) - FORM_ROWS, 0),
            "warnings": sorted(
                {
                    f"{f['rule']}: {f['message']}"
                    for o in orders
                    for f in o.findings
                    if f["severity"] == "warning"
                }
            ),
        },
    )


def delivery_form(orders: Sequence[OnboardingOrder]) -> str:
    """Markdown above the delivery form: the orders still waiting for the operator."""
    return render_markdown(
        DELIVERY_FORM,
        {
            "count": len(orders),
            "orders": [
                {
                    "reference": o.reference,
                    "employee_name": o.employee.name,
                    "model": o.phone_model_name,
                }
                for o in orders[:FORM_ROWS]
            ],
        },
    )


def may_decide_text(
    managers: Sequence[str],
    deputies: Sequence[str],
    municipality: str,
    *,
    above: Sequence[str] = (),
) -> str:
    """Who may decide, by employee number: "bara chefen (E12) eller en utsedd ersättare …";
    `above`: the manager's manager, once the ask went to them."""
    named = f" i {municipality}" if municipality else ""
    chief = f", chefens chef ({', '.join(above)})" if above else ""
    return (
        f"bara chefen ({', '.join(managers) or 'saknas'}){chief} eller en utsedd ersättare{named} "
        f"({', '.join(deputies) or 'ingen utsedd'}) kan göra det"
    )


def not_allowed_to_decide(
    who: str,
    managers: Sequence[str],
    deputies: Sequence[str],
    *,
    municipality: str = "",
    above: Sequence[str] = (),
) -> str:
    """Why a decision by `who` was not taken (shown above the form, asked again)."""
    allowed = may_decide_text(managers, deputies, municipality, above=above)
    return (
        f"{who or 'Ingen'} får inte besluta om beställningen: {allowed}. "
        "Beslutet registrerades inte."
    )
