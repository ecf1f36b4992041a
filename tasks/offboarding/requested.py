"""requested: one offboarding per employment end, whoever starts it and however often.

HR starts one (the Prefect UI's form, `telefoni offboard`); the nightly sync records one for
every employment that ends within the municipality's window and for every leaver it removes
(`tasks.offboarding.recorded`).
The employment's identity is the employee and the start of their employment: a second start
of the same one finds the first, and a start that says something new (HR moved the last day,
named a successor, chose what becomes of a number) changes it while that is still possible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import audit
from models.audit import Actor
from models.offboarding import (
    DISPOSITION_SV,
    Offboarding,
    OffboardingStatus,
    Source,
)
from models.offboarding_forms import OffboardingRequest
from models.offboarding_rules import PlanError
from models.register import Employee
from tasks.offboarding.base import Context, event
from tasks.onboarding.requested import UnknownEmployee, shown_number


class StartRace(RuntimeError):
    """Another start of the same employment end was stored at the same moment; a retry finds it."""


class TooLate(ValueError):
    """The offboarding is carried out already: what was asked can no longer change it."""


@dataclass(frozen=True)
class Received:
    offboarding_id: int
    new: bool
    changed: tuple[str, ...]  # what this start changed, in Swedish
    flow_run_id: str | None  # the run that carries it (None: none yet)


def _employee(session: Session, number: str, ctx: Context, what: str) -> Employee:
    found = session.scalar(
        select(Employee).where(
            Employee.municipality_id == ctx.municipality_id, Employee.employee_number == number
        )
    )
    if found is None:
        raise UnknownEmployee(
            f"{what} {shown_number(number)} finns inte i registret för {ctx.municipality}"
        )
    return found


def receive(
    session: Session, request: OffboardingRequest, *, ctx: Context, now: datetime
) -> Received:
    """HR's start: the employment end's offboarding, made the first time, changed by a later
    start that says something new (TooLate once it is being carried out)."""
    leaver = _employee(session, request.employee_number, ctx, "anställningsnumret")
    successor = (
        _employee(session, request.successor, ctx, "efterträdarens anställningsnummer")
        if request.successor
        else None
    )
    if successor is not None and successor.id == leaver.id:
        raise PlanError("§8.1: efterträdaren kan inte vara den som slutar")
    wanted = {k: d.value for k, d in request.wanted().items()}
    found = find(session, leaver)
    actor = Actor.person(request.started_by)
    if found is None:
        off = Offboarding(
            municipality_id=leaver.municipality_id,
            employee_id=leaver.id,
            employment_start=leaver.employment_start,
            last_day=request.last_day,
            successor_id=successor.id if successor else None,
            source=Source.HR,
            started_by=request.started_by,
            status=OffboardingStatus.RECORDED,
            wanted=wanted,
            wait_round=1,
        )
        try:
            with session.begin_nested():
                session.add(off)
                session.flush()
        except IntegrityError as exc:
            raise StartRace(f"avslutet för {leaver.employee_number} startades samtidigt") from exc
        audit.record_many(
            session,
            [
                event(
                    ctx,
                    off,
                    "recorded",
                    actor=actor,
                    rule="§8.1",
                    reason=f"startat av HR för {leaver.employee_number}",
                    after=_shown(off, successor, wanted),
                )
            ],
        )
        return Received(off.id, True, (), None)
    if ctx.flow_run_id is not None and found.flow_run_id == ctx.flow_run_id:
        # The run that carries it, come back from a wait: its request is its start, and what
        # was changed since (HR moved the day) stands.
        return Received(found.id, False, (), found.flow_run_id)
    changed = _change(session, found, request, successor, wanted, ctx=ctx, actor=actor)
    return Received(found.id, False, changed, found.flow_run_id)


def find(session: Session, leaver: Employee) -> Offboarding | None:
    return session.scalar(
        select(Offboarding)
        .where(
            Offboarding.employee_id == leaver.id,
            Offboarding.employment_start == leaver.employment_start,
        )
        .with_for_update()
    )


def _shown(off: Offboarding, successor: Employee | None, wanted: dict[str, str]) -> dict[str, str]:
    from models.offboarding import Disposition

    return {
        "sista arbetsdag": off.last_day.isoformat(),
        "efterträdare": successor.employee_number if successor else "ingen",
        **{k: DISPOSITION_SV[Disposition(v)] for k, v in sorted(wanted.items())},
    }


def _change(
    session: Session,
    off: Offboarding,
    request: OffboardingRequest,
    successor: Employee | None,
    wanted: dict[str, str],
    *,
    ctx: Context,
    actor: Actor,
) -> tuple[str, ...]:
    """What a later start says anew, applied while it can be (before the last day's work)."""
    changes: list[str] = []
    if request.last_day != off.last_day:
        changes.append(f"sista arbetsdag {off.last_day} → {request.last_day}")
    successor_id = successor.id if successor else None
    if successor_id != off.successor_id and (successor_id is not None or off.source is Source.HR):
        changes.append(f"efterträdare → {successor.employee_number if successor else 'ingen'}")
    if wanted and wanted != off.wanted:
        changes.append("vad som händer med nummer och telefoner")
    if not changes:
        return ()
    if off.status in (OffboardingStatus.CARRYING_OUT, OffboardingStatus.COMPLETED):
        raise TooLate(
            f"{off.reference} genomförs redan (sista arbetsdag {off.last_day}); "
            f"det går inte att ändra {', '.join(changes)}"
        )
    before = {"sista arbetsdag": off.last_day.isoformat()}
    off.last_day = request.last_day
    if successor_id is not None or off.source is Source.HR:
        off.successor_id = successor_id
    if wanted:
        off.wanted = wanted
    audit.record_many(
        session,
        [
            event(
                ctx,
                off,
                "changed",
                actor=actor,
                rule="§8.1",
                reason="; ".join(changes),
                before=before,
                after={"sista arbetsdag": off.last_day.isoformat()},
            )
        ],
    )
    return tuple(changes)
