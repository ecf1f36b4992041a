"""confirmed: the manager confirms or changes what the sync planned (everything terminated).

Only offboardings the sync started are asked about: HR said what becomes of each number when
it started one. The manager of the run's leavers is asked once, with a one-time code, through
the mechanism of people's steps; the deadline is the last working day, and then the plan
stands. An answer that changes the plan names the numbers (or IMEIs) and what becomes of them,
with a successor for a handover; what it does not name is terminated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models import offboarding_notices as notices
from models.asks import Ask, AskStatus, AtDeadline, shown
from models.audit import Actor
from models.notice import Notice
from models.offboarding import (
    DISPOSITION_SV,
    OBJECT_TYPE,
    Disposition,
    ItemStatus,
    Offboarding,
    OffboardingStatus,
)
from models.offboarding_forms import CHOICES, PlanConfirmation
from models.offboarding_rules import Holding, PlanError, dispositions, identify
from models.register import Employee
from tasks.offboarding.base import (
    NOT_WAITING,
    Context,
    Wait,
    event,
    lead,
    load,
    nobody_else,
    of_municipality,
    theirs,
    used_up,
    whose,
)
from tasks.people import AskContext, Given, Purpose, answer, employee, open_ask


def ask_to_confirm(session: Session, ids: Sequence[int], *, ctx: Context, now: datetime) -> Wait:
    """Ask each manager of the run's leavers whose plan waits for it (once each) to confirm
    it; nothing to wait for when none waits. The deadline is the first last day of theirs."""
    waiting = load(session, ids, OffboardingStatus.CONFIRMING)
    if not waiting:
        return NOT_WAITING
    of_municipality(ctx, waiting)
    first = lead(session, ids)
    by_manager: dict[int | None, list[Offboarding]] = {}
    for off in waiting:
        by_manager.setdefault(off.employee.manager_id, []).append(off)
    for offs in by_manager.values():
        manager = offs[0].employee.manager

        def link(ask: Ask, offs: list[Offboarding] = offs) -> None:
            for off in offs:
                off.plan_ask_id = ask.id
            session.flush()

        open_ask(
            session,
            kind=PLAN,
            object_type=OBJECT_TYPE,
            object_id=f"{first.reference}/{whose(manager)}"[:40],
            title=_title(offs),
            assignee=manager,
            flow_run_id=first.flow_run_id or ctx.flow_run_id,
            ctx=ctx.until(min(o.last_day for o in offs), now),
            now=now,
            link=link,
        )
    return Wait(
        True,
        f"bekrafta-{first.wait_round}",
        notices.plan_form(waiting, municipality=ctx.municipality),
    )


def _title(offs: Sequence[Offboarding]) -> str:
    lead = offs[0]
    if len(offs) == 1:
        return f"Bekräfta avslut {lead.reference} ({lead.employee.name}, sista dag {lead.last_day})"
    return f"Bekräfta avslut {lead.reference} m.fl. ({len(offs)} anställda)"


def confirm(
    session: Session,
    ids: Sequence[int],
    given: PlanConfirmation,
    *,
    ctx: Context,
    now: datetime,
) -> str | None:
    """A manager's answer from the run's form, on the plan of their leavers; None when taken,
    else why not (in Swedish, for the form's next round)."""
    used_up(session, ids)
    asks = list(
        session.scalars(
            select(Ask)
            .where(
                Ask.id.in_(select(Offboarding.plan_ask_id).where(Offboarding.id.in_(ids))),
            )
            .order_by(Ask.id)
        )
    )
    mine, answered = theirs(asks, given.decided_by, ctx.asking.deputies)
    if answered or not any(a.status is AskStatus.OPEN for a in asks):
        return None
    if mine is None:
        return nobody_else(asks, given.decided_by.strip(), "bekräfta")
    changes = [(c.number, c.disposition, c.successor) for c in given.changes]
    outcome = answer(
        session,
        mine.id,
        Given(
            who=given.decided_by,
            code=given.code,
            answer=given.decision,
            comment=given.comment,
            data={"changes": changes},
        ),
        kind=PLAN,
        ctx=ctx.asking,
        now=now,
    )
    return None if outcome.accepted else outcome.message


class Plan:
    """The kind of the manager's confirmation of the sync's plan (§8.1)."""

    name = "offboarding_plan"
    rule = "§8.1"
    at_deadline = AtDeadline.KEEP
    answers: Mapping[str, str] = MappingProxyType({"bekräfta": "bekräftat", "ändra": "ändrat"})
    deadline_answer = "bekräfta"

    def notice(
        self,
        session: Session,
        ask: Ask,
        to: Employee,
        *,
        purpose: Purpose,
        code: str | None,
        ctx: AskContext,
    ) -> Notice | None:
        return notices.plan_request(
            _of(session, ask),
            to,
            reminder=ask.reminders_sent if purpose is Purpose.REMIND else 0,
            code=shown(code) if code else None,
            run_url=ctx.run_url(ask.flow_run_id),
            deadline=ask.due_at,
            tz=ctx.tz,
            municipality=ctx.municipality,
            escalated_from=ask.assignee if purpose is Purpose.ESCALATE else None,
            ask_reference=ask.reference,
        )

    def not_allowed(self, ask: Ask, who: str, ctx: AskContext) -> str:
        allowed = [p.employee_number for p in (ask.assignee, ask.escalated_to) if p is not None]
        allowed += sorted(ctx.deputies)
        return (
            f"{who} kan inte bekräfta avslutet: det gör den anställdas chef"
            + (f" ({', '.join(allowed)})" if allowed else "")
            + f" i {ctx.municipality}. Svaret registrerades inte."
        )

    def answered(self, session: Session, ask: Ask, ctx: AskContext, now: datetime) -> None:
        offs = _of(session, ask, OffboardingStatus.CONFIRMING)
        if ask.answer == "ändra":
            _change(
                session, offs, ask.answer_data.get("changes", []), ctx, who=str(ask.answered_by)
            )
        _confirmed(
            session,
            offs,
            ctx,
            reason=ask.comment or PLAN.answers[str(ask.answer)],
            who=Actor.person(str(ask.answered_by)),
        )

    def expired(self, session: Session, ask: Ask, ctx: AskContext, now: datetime) -> None:
        offs = _of(session, ask, OffboardingStatus.CONFIRMING)
        _confirmed(
            session,
            offs,
            ctx,
            reason=ask.comment or "det planerade gäller",
            who=Actor.system("reminders"),
        )

    def wake_input(self, ask: Ask) -> dict[str, object]:
        return {
            "decision": ask.answer or "bekräfta",
            "decided_by": ask.answered_by or "system",
            "changes": [],
            "comment": ask.comment or "",
            "code": "",
        }


PLAN = Plan()


def _of(session: Session, ask: Ask, *statuses: OffboardingStatus) -> list[Offboarding]:
    ids = list(session.scalars(select(Offboarding.id).where(Offboarding.plan_ask_id == ask.id)))
    return load(session, ids, *statuses) if ids else []


def _octx(ctx: AskContext) -> Context:
    return Context(asking=ctx, contact_centre_email="")


def _confirmed(
    session: Session, offs: Sequence[Offboarding], ctx: AskContext, *, reason: str, who: Actor
) -> None:
    octx = _octx(ctx)
    for off in offs:
        off.status = OffboardingStatus.WAITING
    audit.record_many(
        session,
        [event(octx, o, "confirmed", actor=who, rule="§8.1", reason=reason) for o in offs],
    )


def _change(
    session: Session,
    offs: Sequence[Offboarding],
    changes: Sequence[Sequence[str]],
    ctx: AskContext,
    *,
    who: str,
) -> None:
    """The manager's changes, each on the offboarding whose number or phone it names; a
    change that names nothing of theirs, or a handover without a successor, is left out and
    said in the audit trail (the plan otherwise stands)."""
    octx = _octx(ctx)
    records = []
    for number, words, successor_number in changes:
        key = identify(number)
        target = next(
            (
                (off, item)
                for off in offs
                for item in off.items
                if key in (item.number, item.imei) and item.status is ItemStatus.PLANNED
            ),
            None,
        )
        if target is None:
            continue
        off, item = target
        disposition = CHOICES.get(words, Disposition.TERMINATE)
        successor = employee(session, ctx, successor_number) if successor_number.strip() else None
        if successor is not None and successor.id != off.employee_id:
            off.successor_id = successor.id
        try:
            dispositions(
                [Holding(item.number, item.imei)],
                {key: disposition},
                has_successor=off.successor_id is not None,
            )
        except PlanError as exc:
            records.append(
                event(octx, off, "change_refused", actor=Actor.person(who), reason=str(exc))
            )
            continue
        records.append(
            event(
                octx,
                off,
                "replanned",
                actor=Actor.person(who),
                rule="§8.1",
                reason=f"{item.what}: {DISPOSITION_SV[item.disposition]} → "
                f"{DISPOSITION_SV[disposition]}",
            )
        )
        item.disposition, item.disposition_by = disposition, who
    audit.record_many(session, records)
