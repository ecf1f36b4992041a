"""The guideline's rules for an employment that ends (§7.2, §8.1, §8.2), as pure functions.

What is to be done with each subscription and phone, what must be checked off and by whom,
when, and whether the dispositions asked for can be carried out: no database, no network, no
Prefect. Errors name the § that says no.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from models.offboarding import DISPOSITION_SV, Disposition, Owner, Task
from models.ordering import luhn_valid, phone_number

DEFAULT = Disposition.TERMINATE  # what the sync plans until the manager says otherwise

RULE = {
    Task.DEVICE_RETURNED: "§8.1",
    Task.PASSCODE_RESET: "§7.2",
    Task.FACTORY_RESET: "§8.1",
    Task.REFERRAL_REMOVED: "§4.2.3",
    Task.DIRECTORY_UPDATED: "§3.1",
    Task.CONTACT_CENTRE_INFORMED: "§8.1",
}
OWNER = {
    Task.DEVICE_RETURNED: Owner.MANAGER,  # the manager receives the phone back
    Task.PASSCODE_RESET: Owner.EMPLOYEE,  # §7.2: on return, the employee resets the passcode
    Task.FACTORY_RESET: Owner.MANAGER,  # §8.1: the manager is responsible
    Task.REFERRAL_REMOVED: Owner.SYSTEM,
    Task.DIRECTORY_UPDATED: Owner.SYSTEM,
    Task.CONTACT_CENTRE_INFORMED: Owner.SYSTEM,
}
TASK_SV = {
    Task.DEVICE_RETURNED: "telefonen återlämnad",
    Task.PASSCODE_RESET: "lösenkoden återställd",
    Task.FACTORY_RESET: "telefonen fabriksåterställd",
    Task.REFERRAL_REMOVED: "hänvisning och kalenderkoppling borttagna",
    Task.DIRECTORY_UPDATED: "posten i kunddatabasen borttagen eller flyttad",
    Task.CONTACT_CENTRE_INFORMED: "kontaktcenter informerat för registrering",
}
OWNER_SV = {Owner.EMPLOYEE: "den anställda", Owner.MANAGER: "chefen", Owner.SYSTEM: "systemet"}


@dataclass(frozen=True, slots=True)
class Holding:
    """A subscription of the leaver (with the phone on it), or a phone on none of theirs."""

    number: str | None  # the subscription's, None for a phone alone
    imei: str | None  # the phone's, None for a subscription without one
    has_referral: bool = False
    personal_phone: bool = True  # a phone not on a non-personal (shared) subscription

    @property
    def name(self) -> str:
        return self.number or f"IMEI {self.imei}"


@dataclass(frozen=True, slots=True)
class Todo:
    task: Task
    owner: Owner
    rule: str
    due_on: date


def checklist(holding: Holding, *, last_day: date, attest_days: int) -> list[Todo]:
    """What must be done and attested for one holding: the employee's on the last day, the
    manager's within `attest_days` after it, the system's as it carries the plan out."""

    def todo(task: Task) -> Todo:
        owner = OWNER[task]
        return Todo(task, owner, RULE[task], due_on(owner, last_day, attest_days))

    tasks: list[Task] = []
    if holding.imei is not None:
        tasks += [Task.DEVICE_RETURNED, Task.PASSCODE_RESET]
        if holding.personal_phone:  # §8.1 is about personal phones
            tasks.append(Task.FACTORY_RESET)
    if holding.number is not None:
        if holding.has_referral:
            tasks.append(Task.REFERRAL_REMOVED)
        tasks += [Task.DIRECTORY_UPDATED, Task.CONTACT_CENTRE_INFORMED]
    return [todo(t) for t in tasks]


def due_on(owner: Owner, last_day: date, attest_days: int) -> date:
    """When a thing of the checklist is due: the manager's `attest_days` after the last
    working day, everything else on it."""
    return last_day + timedelta(days=attest_days if owner is Owner.MANAGER else 0)


class PlanError(ValueError):
    """The dispositions asked for cannot be carried out; the message names the § and the item."""


def dispositions(
    holdings: Sequence[Holding],
    wanted: Mapping[str, Disposition],
    *,
    has_successor: bool,
) -> list[Disposition]:
    """Each holding's disposition (the default where none is asked for); PlanError naming every
    problem: a number or IMEI that is not the leaver's, a handover with nobody to hand over to
    (§8.1), a private takeover of a phone without a subscription (§8.2)."""
    known: dict[str, int] = {}
    for i, h in enumerate(holdings):
        for key in (h.number, h.imei):
            if key:
                known[key] = i
    problems = [
        f"{key} är inte ett av den anställdas nummer eller telefoner"
        for key in wanted
        if identify(key) not in known
    ]
    chosen = [DEFAULT] * len(holdings)
    for key, disposition in wanted.items():
        if identify(key) in known:
            chosen[known[identify(key)]] = disposition
    for holding, disposition in zip(holdings, chosen, strict=True):
        if disposition is Disposition.HAND_OVER and not has_successor:
            problems.append(
                f"§8.1: {holding.name} ska lämnas över, men ingen efterträdare är angiven"
            )
        if disposition is Disposition.TAKEOVER and holding.number is None:
            problems.append(
                f"§8.2: {holding.name} har inget abonnemang att ta över privat "
                f"(välj {DISPOSITION_SV[Disposition.TERMINATE]!r} eller lämna över telefonen)"
            )
    if problems:
        raise PlanError("; ".join(problems))
    return chosen


def parse_disposition(text: str) -> Disposition:
    """A disposition as a person writes it, in Swedish or as its code."""
    words = text.strip().casefold()
    for d in Disposition:
        if words in (d.value, DISPOSITION_SV[d].casefold()):
            return d
    shown = ", ".join(f"{DISPOSITION_SV[d]!r}" for d in Disposition)
    raise ValueError(f"{text!r} är inget val för ett abonnemang (välj {shown})")


def identify(text: str) -> str:
    """A number or IMEI as people write it → as the register holds it (E.164, or 15 digits);
    anything else as it was, stripped (it is then nobody's)."""
    digits = "".join(ch for ch in text if ch not in " -/.")
    if digits.isascii() and digits.isdigit() and len(digits) == 15 and luhn_valid(digits):
        return digits
    try:
        return phone_number(text.strip())
    except ValueError:
        return text.strip()
