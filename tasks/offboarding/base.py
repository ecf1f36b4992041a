"""What every stage of an offboarding shares: its surroundings, its records, its audit events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.asks import Ask, AskStatus, Timing, may_answer
from models.audit import Actor, AuditRecord
from models.notice import Notice
from models.offboarding import OBJECT_TYPE, Offboarding, OffboardingItem, OffboardingStatus
from models.outbox import Sender
from models.register import Employee
from tasks.people.context import AskContext, ask_context_from
from telefoni.core.municipalities import MunicipalitySettings
from telefoni.core.settings import Settings


@dataclass(frozen=True)
class Context:
    """One municipality's surroundings of its offboardings: the mechanism of people's steps
    (`asking`: sender, deputies, deadlines, the codes' key), and whom else to tell."""

    asking: AskContext
    contact_centre_email: str
    ordering_function_email: str = ""
    attest_days: int = 7  # after the last working day, for the manager's attestations
    window_days: int = 14  # before the employment ends, the sync starts the offboarding

    @property
    def sender(self) -> Sender:
        return self.asking.sender

    @property
    def municipality(self) -> str:
        return self.asking.municipality

    @property
    def municipality_id(self) -> int:
        return self.asking.municipality_id

    @property
    def flow_run_id(self) -> str | None:
        return self.asking.flow_run_id

    @property
    def tz(self) -> ZoneInfo:
        return self.asking.tz

    @property
    def actor(self) -> Actor:
        return Actor.flow_run(self.flow_run_id) if self.flow_run_id else Actor.system("offboarding")

    def run_url(self, flow_run_id: str | None = None) -> str:
        return self.asking.run_url(flow_run_id or self.flow_run_id)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def end_of(self, day: date) -> datetime:
        """The end of a day, as the municipality's clocks show it (a deadline "on" that day)."""
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)

    def until(self, day: date, now: datetime) -> AskContext:
        """The mechanism's surroundings for an ask due at the end of `day` (at least an hour)."""
        deadline = max(self.end_of(day) - now, timedelta(hours=1))
        timing = self.asking.timing
        return replace(
            self.asking, timing=Timing(deadline, timing.remind_every, timing.escalate_after)
        )

    def queue(self, session: Session, notice: Notice | None) -> None:
        self.asking.queue(session, notice)


def context_from(
    settings: Settings,
    flow_run_id: str | None,
    municipality: MunicipalitySettings,
    municipality_id: int,
) -> Context:
    return Context(
        asking=ask_context_from(settings, municipality, municipality_id, flow_run_id),
        contact_centre_email=str(municipality.contact_centre_email),
        ordering_function_email=str(municipality.ordering_function_email),
        attest_days=municipality.offboarding_attest_days,
        window_days=municipality.offboarding_window_days,
    )


@dataclass(frozen=True)
class Wait:
    """What a form of the run waits for: its key and the text above it (nothing: not waiting)."""

    waiting: bool
    key: str = ""
    description: str = ""


NOT_WAITING = Wait(False)


def lead(session: Session, ids: Sequence[int]) -> Offboarding:
    """The run's first offboarding, locked: it keeps the run's count of waits."""
    found = session.get(Offboarding, min(ids), with_for_update=True)
    assert found is not None
    return found


def used_up(session: Session, ids: Sequence[int]) -> None:
    """A form of the run was answered: the next wait has a key of its own (a used key would
    give the old answer back)."""
    lead(session, ids).wait_round += 1


def whose(owner: Employee | None) -> str:
    """An ask's owner in its object id: the employee number (no manager: nobody's)."""
    return owner.employee_number if owner is not None else "ingen-chef"


def theirs(asks: Sequence[Ask], who: str, deputies: frozenset[str]) -> tuple[Ask | None, bool]:
    """Of a run's asks, the open one `who` may answer (a deputy: the first open one), and
    whether one of theirs was answered already (then the form's answer is the run's wake-up)."""
    who = who.strip()
    if any(a.status is not AskStatus.OPEN and a.answered_by == who for a in asks):
        return None, True
    open_ = [a for a in asks if a.status is AskStatus.OPEN]
    mine = [
        a
        for a in open_
        if may_answer(
            who,
            assignee=a.assignee.employee_number if a.assignee else None,
            escalated_to=a.escalated_to.employee_number if a.escalated_to else None,
            deputies=(),
        )
    ]
    if not mine and who in deputies:
        mine = open_
    return (mine[0] if mine else None), False


def nobody_else(asks: Sequence[Ask], who: str, what: str) -> str:
    """Why `who` has nothing of the run's to answer, naming who has (in Swedish)."""
    owners = sorted(
        {a.assignee.employee_number for a in asks if a.assignee and a.status is AskStatus.OPEN}
    )
    return (
        f"{who or 'Ingen'} har inget att {what} i det här avslutet; det gör "
        f"{', '.join(owners) or 'en utsedd ersättare'}. Svaret registrerades inte."
    )


class WrongMunicipality(ValueError):
    """A step was asked to handle another municipality's offboardings."""


def load(
    session: Session, ids: Sequence[int], *statuses: OffboardingStatus, lock: bool = False
) -> list[Offboarding]:
    """The run's offboardings (those in `statuses`, if given), in order, with what steps read."""
    stmt = (
        select(Offboarding)
        .where(Offboarding.id.in_(ids))
        .order_by(Offboarding.id)
        .options(
            selectinload(Offboarding.employee).selectinload(Employee.manager),
            selectinload(Offboarding.successor),
            selectinload(Offboarding.items).selectinload(OffboardingItem.checklist),
            selectinload(Offboarding.items).selectinload(OffboardingItem.subscription),
            selectinload(Offboarding.items).selectinload(OffboardingItem.device),
        )
    )
    if statuses:
        stmt = stmt.where(Offboarding.status.in_(statuses))
    if lock:
        stmt = stmt.with_for_update(of=Offboarding)
    return list(session.scalars(stmt))


def of_municipality(ctx: Context, offboardings: Sequence[Offboarding]) -> None:
    strangers = [o.reference for o in offboardings if o.municipality_id != ctx.municipality_id]
    if strangers:
        raise WrongMunicipality(
            f"{', '.join(strangers[:5])} hör inte till {ctx.municipality}; inget har gjorts med dem"
        )


def event(
    ctx: Context,
    off: Offboarding,
    action: str,
    *,
    actor: Actor | None = None,
    reason: str | None = None,
    rule: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """An audit record of the offboarding's story (`offboarding.<action>`)."""
    return AuditRecord(
        actor=actor or ctx.actor,
        action=f"offboarding.{action}",
        object_type=OBJECT_TYPE,
        object_id=off.reference,
        before=before,
        after=after,
        reason=reason,
        rule=rule,
        flow_run_id=ctx.flow_run_id,
        municipality_id=off.municipality_id,
    )
