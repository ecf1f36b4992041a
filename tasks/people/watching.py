"""The watch over open asks, every kind alike: remind at the interval, escalate to the
manager's manager, apply the deadline's outcome once, and name the runs to wake."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models.ask_notices import person
from models.asks import AT_DEADLINE_DONE_SV, SYSTEM, Ask, AskStatus, AtDeadline, Due, due
from models.audit import Actor
from tasks.people.asking import event, issue_code, load_ask
from tasks.people.context import AskContext
from tasks.people.kinds import Kind, Purpose

WATCH = Actor.system("reminders")


@dataclass(frozen=True)
class Wake:
    """A run that waits for an ask settled elsewhere (or for a day that has come: no ask),
    and the input that wakes it."""

    ask_id: int | None
    flow_run_id: str
    run_input: dict[str, Any]


@dataclass
class Counts:
    reminded: int = 0
    escalated: int = 0
    expired: int = 0


def watch(session: Session, *, kinds: Mapping[str, Kind], ctx: AskContext, now: datetime) -> Counts:
    """Everything due now on the municipality's open asks, each ask under its row lock: two
    watches at once do each thing once."""
    counts = Counts()
    ids = session.scalars(
        select(Ask.id)
        .where(Ask.municipality_id == ctx.municipality_id, Ask.status == AskStatus.OPEN)
        .order_by(Ask.due_at, Ask.id)
    ).all()
    for ask_id in ids:
        ask = load_ask(session, ask_id, lock=True)
        if ask is None or ask.status is not AskStatus.OPEN or ask.kind not in kinds:
            continue
        kind = kinds[ask.kind]
        needed = due(ask, now)
        if needed is Due.DEADLINE:
            _expire(session, ask, kind, ctx, now)
            counts.expired += 1
        elif needed is Due.ESCALATE:
            _escalate(session, ask, kind, ctx, now)
            counts.escalated += 1
        elif needed is Due.REMIND:
            _remind(session, ask, kind, ctx, now)
            counts.reminded += 1
    return counts


def _remind(session: Session, ask: Ask, kind: Kind, ctx: AskContext, now: datetime) -> None:
    ask.reminders_sent += 1
    told = [p for p in (ask.assignee, ask.escalated_to) if p is not None]
    for to in told:
        ctx.queue(
            session, kind.notice(session, ask, to, purpose=Purpose.REMIND, code=None, ctx=ctx)
        )
    whom = " och ".join(person(p) for p in told) or "ingen att påminna"
    audit.record_many(
        session,
        [
            event(
                ctx,
                ask,
                "reminded",
                actor=WATCH,
                reason=f"påminnelse {ask.reminders_sent} till {whom}",
            )
        ],
    )


def _escalate(session: Session, ask: Ask, kind: Kind, ctx: AskContext, now: datetime) -> None:
    """To the assignee's manager, with a code of their own; the admin is told if there is
    nobody above."""
    ask.escalated_at = now
    above = ask.assignee.manager if ask.assignee is not None else None
    if above is None or above.id == ask.assignee_id or above.municipality_id != ask.municipality_id:
        reason = (
            f"kunde inte gå vidare: {person(ask.assignee)} har ingen chef i registret"
            if ask.assignee
            else "kunde inte gå vidare: ärendet har ingen chef"
        )
        audit.record_many(
            session, [event(ctx, ask, "escalation_failed", actor=WATCH, reason=reason)]
        )
        return
    ask.escalated_to = above
    code = issue_code(session, ask, above.employee_number, now, ctx)
    ctx.queue(
        session, kind.notice(session, ask, above, purpose=Purpose.ESCALATE, code=code, ctx=ctx)
    )
    audit.record_many(
        session,
        [
            event(
                ctx,
                ask,
                "escalated",
                actor=WATCH,
                reason=f"inget svar från {person(ask.assignee)}; nu även till chefens chef "
                f"{person(above)}",
                after={"chefens chef": person(above)},
            )
        ],
    )


def _expire(session: Session, ask: Ask, kind: Kind, ctx: AskContext, now: datetime) -> None:
    """Nobody answered in time: the deadline's answer, applied by the kind."""
    days = (ask.due_at - ask.asked_at).total_seconds() / 86400
    ask.status = AskStatus.EXPIRED
    ask.answer = kind.deadline_answer
    ask.answered_by, ask.answered_at = SYSTEM, now
    ask.comment = (
        f"{AT_DEADLINE_DONE_SV[AtDeadline(ask.at_deadline)]}: ingen svarade inom {days:g} dagar"
    )
    audit.record_many(
        session,
        [
            event(
                ctx,
                ask,
                "expired",
                actor=WATCH,
                reason=ask.comment,
                after={"svar": kind.answers.get(kind.deadline_answer, kind.deadline_answer)},
            )
        ],
    )
    kind.expired(session, ask, ctx, now)


def to_wake(session: Session, *, kinds: Mapping[str, Kind], municipality_id: int) -> list[Wake]:
    """Settled asks whose run has not been told yet (answered in a terminal, or expired)."""
    asks = session.scalars(
        select(Ask)
        .where(
            Ask.municipality_id == municipality_id,
            Ask.status.in_([AskStatus.ANSWERED, AskStatus.EXPIRED]),
            Ask.flow_run_id.is_not(None),
            Ask.woken_at.is_(None),
        )
        .order_by(Ask.id)
    ).all()
    return [
        Wake(a.id, str(a.flow_run_id), kinds[a.kind].wake_input(a)) for a in asks if a.kind in kinds
    ]


def woken(session: Session, ask_ids: Sequence[int | None], now: datetime) -> None:
    """The runs of these asks were told (or have nothing to be told any more)."""
    for ask in session.scalars(select(Ask).where(Ask.id.in_([i for i in ask_ids if i]))):
        ask.woken_at = now
