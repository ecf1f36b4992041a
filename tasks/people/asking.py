"""Opening an ask: once per question, its person mailed with a one-time code of their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import ask_notices, audit
from models.ask_notices import local, person
from models.asks import (
    AT_DEADLINE_SV,
    OBJECT_TYPE,
    Ask,
    AskCode,
    AskStatus,
    AtDeadline,
    code_hash,
    new_code,
)
from models.audit import Actor, AuditRecord
from models.register import Employee
from tasks.people.context import AskContext
from tasks.people.kinds import Kind, Purpose


def event(
    ctx: AskContext,
    ask: Ask,
    action: str,
    *,
    actor: Actor | None = None,
    reason: str | None = None,
    after: dict[str, object] | None = None,
) -> AuditRecord:
    """An audit record of the ask's own story (`ask.<action>`), with its kind's §."""
    return AuditRecord(
        actor=actor or ctx.actor,
        action=f"ask.{action}",
        object_type=OBJECT_TYPE,
        object_id=ask.reference,
        after=after,
        reason=reason,
        rule=ask.rule,
        flow_run_id=ctx.flow_run_id,
        municipality_id=ask.municipality_id,
    )


def load_ask(session: Session, ask_id: int, *, lock: bool = False) -> Ask | None:
    """The ask, fresh from the database (locked for the caller's transaction if `lock`)."""
    stmt = (
        select(Ask)
        .where(Ask.id == ask_id)
        .options(
            selectinload(Ask.assignee).selectinload(Employee.manager),
            selectinload(Ask.escalated_to),
        )
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=Ask)
    return session.scalar(stmt)


def find_ask(session: Session, kind: str, object_type: str, object_id: str) -> Ask | None:
    return session.scalar(
        select(Ask).where(
            Ask.kind == kind, Ask.object_type == object_type, Ask.object_id == object_id
        )
    )


def employee(session: Session, ctx: AskContext, number: str) -> Employee | None:
    """The municipality's employee with this number (numbers are unique only within one)."""
    return session.scalar(
        select(Employee).where(
            Employee.municipality_id == ctx.municipality_id,
            Employee.employee_number == number.strip(),
        )
    )


def open_ask(
    session: Session,
    *,
    kind: Kind,
    object_type: str,
    object_id: str,
    title: str,
    assignee: Employee | None,
    flow_run_id: str | None,
    ctx: AskContext,
    now: datetime,
    link: Callable[[Ask], None] = lambda ask: None,
) -> Ask:
    """The ask about `object_id`, made and mailed to `assignee` (with a code) the first time;
    the same question again finds it (and follows the run that now waits for it). `link` ties
    what it is about to the ask before its mail is written."""
    found = find_ask(session, kind.name, object_type, object_id)
    if found is not None:
        if flow_run_id and found.flow_run_id != flow_run_id:
            found.flow_run_id = flow_run_id
        link(found)
        return found
    timing = ctx.timing
    escalate = timing.escalate_after
    ask = Ask(
        municipality_id=ctx.municipality_id,
        kind=kind.name,
        object_type=object_type,
        object_id=object_id,
        title=title[:300],
        rule=kind.rule,
        status=AskStatus.OPEN,
        assignee=assignee,
        flow_run_id=flow_run_id,
        asked_at=now,
        due_at=now + timing.deadline,
        remind_every_hours=timing.remind_every.total_seconds() / 3600,
        escalate_at=now + escalate if escalate is not None and escalate < timing.deadline else None,
        at_deadline=kind.at_deadline,
        reminders_sent=0,
        failed_attempts=0,
        answer_data={},
    )
    session.add(ask)
    session.flush()
    link(ask)
    asked = person(assignee) if assignee else "ingen chef: bara en utsedd ersättare kan svara"
    audit.record_many(
        session,
        [
            event(
                ctx,
                ask,
                "opened",
                reason=ask.title,
                after={
                    "frågar": asked,
                    "senast": local(ask.due_at, ctx.tz),
                    "vid tidsfristen": AT_DEADLINE_SV[AtDeadline(ask.at_deadline)],
                    "om": f"{object_type} {object_id}",
                },
            )
        ],
    )
    if assignee is not None:
        code = issue_code(session, ask, assignee.employee_number, now, ctx)
        notice = kind.notice(session, ask, assignee, purpose=Purpose.ASK, code=code, ctx=ctx)
        ctx.queue(session, notice)
    return ask


def issue_code(
    session: Session, ask: Ask, employee_number: str, now: datetime, ctx: AskContext
) -> str:
    """A new one-time code for one person and one ask; theirs from before stops working. Only
    its keyed hash is stored; the code itself goes into the mail and nowhere else."""
    number = employee_number.strip()
    for earlier in live_codes(session, ask, number):
        earlier.replaced_at = now
    code = new_code()
    session.add(
        AskCode(
            ask_id=ask.id,
            employee_number=number,
            code_hash=code_hash(ctx.code_key, ask_id=ask.id, employee_number=number, code=code),
            sent_at=now,
        )
    )
    session.flush()
    return code


def live_codes(session: Session, ask: Ask, employee_number: str) -> list[AskCode]:
    """The person's codes for the ask that still work: neither used nor replaced."""
    return list(
        session.scalars(
            select(AskCode).where(
                AskCode.ask_id == ask.id,
                AskCode.employee_number == employee_number.strip(),
                AskCode.used_at.is_(None),
                AskCode.replaced_at.is_(None),
            )
        )
    )


def mail_fresh_code(
    session: Session, ask: Ask, to: Employee, now: datetime, ctx: AskContext
) -> None:
    """A new code for `to`, who asked for one (or whose ask was unlocked), by mail."""
    code = issue_code(session, ask, to.employee_number, now, ctx)
    ctx.queue(
        session,
        ask_notices.fresh_code(
            ask,
            to,
            code,
            sent=codes_sent(session, ask, to.employee_number),
            run_url=ctx.run_url(ask.flow_run_id),
            admin_email=ctx.admin_email,
            municipality=ctx.municipality,
        ),
    )


def codes_sent(session: Session, ask: Ask, employee_number: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(AskCode)
            .where(AskCode.ask_id == ask.id, AskCode.employee_number == employee_number)
        )
        or 0
    )
