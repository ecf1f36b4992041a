"""Answering an ask: whoever answers proves who they are with their one-time code.

The same function takes every answer, from the run's form in the Prefect UI and from the
terminal alike: the ask is locked for the transaction, the person must be one who may answer
and their live code must match; a wrong code is counted and audited, and too many lock the
ask and tell the admin. A right answer is recorded once, with the kind's effects, and the code
never works again. The audit trail records that the code matched, never the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models import ask_notices, audit
from models.ask_notices import person
from models.asks import (
    STATUS_SV,
    Ask,
    AskStatus,
    code_matches,
    masked_email,
    may_answer,
    typed,
)
from models.audit import Actor
from tasks.people.asking import (
    codes_sent,
    employee,
    event,
    live_codes,
    load_ask,
    mail_fresh_code,
)
from tasks.people.context import AskContext
from tasks.people.kinds import Kind


@dataclass(frozen=True)
class Given:
    """An answer as a person gives it."""

    who: str  # their employee number
    code: str
    answer: str
    comment: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What came of an answer: accepted (`already`: it had been, by the same person, before),
    or refused with the reason, in Swedish, for the person who answered."""

    accepted: bool
    message: str
    already: bool = False


def answer(
    session: Session, ask_id: int, given: Given, *, kind: Kind, ctx: AskContext, now: datetime
) -> Outcome:
    """Take `given` for the ask, or refuse it and say why; the ask stays open when refused."""
    ask = load_ask(session, ask_id, lock=True)
    if ask is None:
        return Outcome(False, f"Det finns inget ärende {ask_id}.")
    who = given.who.strip()
    actor = Actor.person(who or "okänd")
    if ask.status is not AskStatus.OPEN:
        if ask.answered_by == who and ask.answer == given.answer:
            return Outcome(True, f"Ditt svar på {ask.title} var redan registrerat.", already=True)
        by = ask_notices.answered_by(ask)
        return Outcome(
            False,
            f"{ask.title} är redan {STATUS_SV[ask.status]}{by}. Ditt svar registrerades inte.",
        )
    if ask.locked_at is not None:
        return Outcome(
            False,
            f"{ask.title} är låst efter för många felaktiga engångskoder; IT ({ctx.admin_email}) "
            "har fått besked och kan låsa upp det. Ditt svar registrerades inte.",
        )
    if given.answer not in kind.answers:
        words = ", ".join(kind.answers)
        return Outcome(False, f"{given.answer!r} är inget svar på {ask.title} (svara {words}).")
    allowed = may_answer(
        who,
        assignee=ask.assignee.employee_number if ask.assignee else None,
        escalated_to=ask.escalated_to.employee_number if ask.escalated_to else None,
        deputies=ctx.deputies,
    )
    if not allowed:
        message = kind.not_allowed(ask, who, ctx)
        audit.record_many(session, [event(ctx, ask, "refused", actor=actor, reason=message)])
        return Outcome(False, message)
    if not typed(given.code):
        return _send_code(session, ask, who, ctx=ctx, now=now)
    live = live_codes(session, ask, who)
    match = next(
        (
            c
            for c in live
            if code_matches(
                ctx.code_key, c.code_hash, ask_id=ask.id, employee_number=who, code=given.code
            )
        ),
        None,
    )
    if match is None:
        return _wrong_code(session, ask, who, ctx=ctx, now=now)
    match.used_at = now
    ask.status = AskStatus.ANSWERED
    ask.answer = given.answer
    ask.answer_data = dict(given.data)
    ask.comment = given.comment or None
    ask.answered_by, ask.answered_at = who, now
    audit.record_many(
        session,
        [
            event(
                ctx,
                ask,
                "answered",
                actor=actor,
                reason=given.comment or kind.answers[given.answer],
                after={"svar": kind.answers[given.answer], "engångskod": "stämde"},
            )
        ],
    )
    kind.answered(session, ask, ctx, now)
    return Outcome(True, f"{ask.title}: {kind.answers[given.answer]}.")


def _send_code(session: Session, ask: Ask, who: str, *, ctx: AskContext, now: datetime) -> Outcome:
    """No code given by one who may answer: a new one by mail, up to the municipality's limit."""
    to = employee(session, ctx, who)
    if to is None or not to.email:
        return Outcome(
            False,
            f"Ingen engångskod angavs, och {who} har ingen e-postadress i personalregistret att "
            f"skicka en till; kontakta IT ({ctx.admin_email}). Svaret registrerades inte.",
        )
    sent = codes_sent(session, ask, who)
    if sent >= ctx.max_codes:
        return Outcome(
            False,
            f"Ingen engångskod angavs. {sent} koder har redan skickats till dig för "
            f"{ask.title}; ange den senaste, eller kontakta IT ({ctx.admin_email}). "
            "Svaret registrerades inte.",
        )
    mail_fresh_code(session, ask, to, now, ctx)
    audit.record_many(
        session,
        [
            event(
                ctx,
                ask,
                "code_sent",
                actor=Actor.person(who),
                reason=f"ny engångskod till {person(to)}",
            )
        ],
    )
    return Outcome(
        False,
        f"Ingen engångskod angavs. En ny kod har skickats till {masked_email(to.email)}; "
        "svara igen med den. Svaret registrerades inte.",
    )


def _wrong_code(session: Session, ask: Ask, who: str, *, ctx: AskContext, now: datetime) -> Outcome:
    """A wrong (or used, or replaced) code: counted, audited, and at the limit the ask locks."""
    ask.failed_attempts += 1
    left = ctx.max_attempts - ask.failed_attempts
    records = [
        event(
            ctx,
            ask,
            "wrong_code",
            actor=Actor.person(who),
            reason=f"fel engångskod ({ask.failed_attempts} av {ctx.max_attempts})",
        )
    ]
    if left > 0:
        audit.record_many(session, records)
        return Outcome(
            False,
            f"Fel engångskod: svaret registrerades inte. {left} försök kvar innan ärendet låses.",
        )
    ask.locked_at = now
    records.append(
        event(
            ctx,
            ask,
            "locked",
            actor=Actor.person(who),
            reason=f"låst efter {ask.failed_attempts} felaktiga engångskoder; IT har fått besked",
        )
    )
    audit.record_many(session, records)
    ctx.queue(
        session,
        ask_notices.locked(
            ask,
            person(employee(session, ctx, who), who),
            admin_email=ctx.admin_email,
            run_url=ctx.run_url(ask.flow_run_id),
            tz=ctx.tz,
            municipality=ctx.municipality,
        ),
    )
    return Outcome(
        False,
        f"Fel engångskod: svaret registrerades inte. Ärendet är nu låst efter "
        f"{ask.failed_attempts} felaktiga koder; IT ({ctx.admin_email}) har fått besked.",
    )


def unlock(session: Session, ask_id: int, *, by: Actor, ctx: AskContext, now: datetime) -> str:
    """The admin unlocks an ask: the count starts over and its person gets a new code."""
    ask = load_ask(session, ask_id, lock=True)
    if ask is None:
        return f"Det finns inget ärende {ask_id}."
    if ask.locked_at is None:
        return f"{ask.reference} är inte låst."
    ask.locked_at, ask.failed_attempts = None, 0
    audit.record_many(session, [event(ctx, ask, "unlocked", actor=by, reason="upplåst")])
    to = ask.escalated_to or ask.assignee
    if to is not None:
        mail_fresh_code(session, ask, to, now, ctx)
        return f"{ask.reference} är upplåst; {person(to)} har fått en ny engångskod."
    return f"{ask.reference} är upplåst."
