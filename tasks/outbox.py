"""The relay: sends what the outbox holds, records what happened, dead-letters what won't go.

Delivery is at-least-once: a row is marked sent only after the server accepted it, and marks
are committed every `commit_every` mails, so a process killed in between sends those again
on its next run (same Message-ID) and loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.outbox import OutboxMessage, OutboxStatus, RetryPolicy
from models.wording import counted, number
from tasks.mail import MailServerUnavailable, MailTransport, Outcome, OutgoingMail, SendResult
from telefoni.core.locks import exclusive_run
from telefoni.core.settings import Settings

LOCK_NAME = "outbox-relay"


@dataclass
class RelayReport:
    sent: int = 0
    retry_later: int = 0
    dead: int = 0
    still_pending: int = 0
    skipped: bool = False  # another relay held the lock
    seconds: float = 0.0
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)  # to, subject, why


def _due(session: Session, *, after_id: int, now: datetime, limit: int) -> list[OutgoingMail]:
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.recipient,
            OutboxMessage.subject,
            OutboxMessage.message_id,
            OutboxMessage.raw,
        )
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.id > after_id,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    return [OutgoingMail(r.id, r.recipient, r.subject, r.message_id, r.raw) for r in rows]


def _record(
    engine: Engine,
    results: list[tuple[OutgoingMail, SendResult]],
    policy: RetryPolicy,
    report: RelayReport,
    now: datetime,
) -> None:
    """Write the outcome of sent mails in one short transaction, stamped `now`."""
    if not results:
        return
    with Session(engine) as session, session.begin():
        attempts: dict[int, int] = {
            row.id: row.attempts
            for row in session.execute(
                select(OutboxMessage.id, OutboxMessage.attempts).where(
                    OutboxMessage.id.in_([m.outbox_id for m, _ in results])
                )
            )
        }
        changes: list[dict[str, Any]] = []
        for mail, result in results:
            tries = attempts[mail.outbox_id] + 1
            row: dict[str, Any] = {"id": mail.outbox_id, "attempts": tries}
            if result.outcome is Outcome.SENT:
                row |= {"status": OutboxStatus.SENT, "sent_at": now, "last_error": None}
                report.sent += 1
            elif result.outcome is Outcome.RETRY and not policy.gives_up(tries):
                row |= {"next_attempt_at": now + policy.delay(tries), "last_error": result.detail}
                report.retry_later += 1
            else:
                why = result.detail or "okänt fel"
                if result.outcome is Outcome.RETRY:
                    why = f"gav upp efter {tries} försök: {why}"
                row |= {"status": OutboxStatus.DEAD, "last_error": why}
                report.dead += 1
                report.dead_letters.append((mail.recipient, mail.subject, why))
            changes.append(row)
        session.execute(update(OutboxMessage), changes)
        settled = [c["id"] for c in changes if "status" in c]  # sent, or dead
        for message in session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.id.in_(settled), OutboxMessage.sealed.is_(True)
            )
        ):
            message.erase()  # a one-time code is kept nowhere once it has gone (or died)
    results.clear()


def relay_outbox(
    engine: Engine,
    transport: MailTransport,
    *,
    policy: RetryPolicy,
    batch_size: int = 500,
    commit_every: int = 100,
    now: Callable[[], datetime] = utcnow,
) -> RelayReport:
    """Send every due message once, a batch per connection; raise if the server is down."""
    report = RelayReport()
    started = time.perf_counter()
    with exclusive_run(engine, LOCK_NAME) as mine:
        if not mine:
            report.skipped = True
            return report
        cutoff, after_id = now(), 0
        while True:
            with Session(engine) as session, session.begin():
                batch = _due(session, after_id=after_id, now=cutoff, limit=batch_size)
            if not batch:
                break
            results: list[tuple[OutgoingMail, SendResult]] = []
            try:
                with transport.connect() as connection:
                    for mail in batch:
                        results.append((mail, connection.send(mail)))
                        if len(results) >= commit_every:
                            _record(engine, results, policy, report, now())
            finally:
                _record(engine, results, policy, report, now())  # what went out before a failure
            after_id = batch[-1].outbox_id
        with Session(engine) as session:
            report.still_pending = len(
                session.scalars(
                    select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.PENDING)
                ).all()
            )
    report.seconds = time.perf_counter() - started
    return report


def relay_log_line(report: RelayReport) -> str:
    """The relay run in one Swedish line with its counts (no recipients: they are people)."""
    if report.skipped:
        return "Ett annat utskick pågick redan; den här körningen gjorde ingenting."
    line = (
        f"Skickade {counted(report.sent, 'e-postmeddelande', 'e-postmeddelanden')}; "
        f"{number(report.retry_later)} väntar på nytt försök; "
        f"{number(report.dead)} kunde inte levereras."
    )
    if report.still_pending:
        line += f" {number(report.still_pending)} väntar kvar i utkorgen."
    return line


def relay_policy(settings: Settings) -> RetryPolicy:
    """The relay's retry policy from the settings."""
    return RetryPolicy(
        max_attempts=settings.relay_max_attempts,
        base_seconds=settings.relay_backoff_seconds,
        factor=settings.relay_backoff_factor,
        max_seconds=settings.relay_backoff_max_seconds,
        jitter=settings.relay_jitter,
    )


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except MailServerUnavailable:
        return True
    except Exception:
        return False
    return False


@task(
    name="Skicka e-post från utkorgen",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    retry_jitter_factor=0.5,
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,  # a side effect: never skipped for a cached result
    persist_result=False,
)
def send_outbox(batch_size: int = 500) -> RelayReport:
    """Relay the outbox with the configured transport and retry policy."""
    from tasks.mail import transport_from
    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings

    settings = get_settings()
    report = relay_outbox(
        get_engine(settings.database_url),
        transport_from(settings),
        policy=relay_policy(settings),
        batch_size=batch_size,
    )
    logger = get_run_logger()
    logger.info(relay_log_line(report))
    if report.dead:
        logger.warning(
            "%s lades som döda brev; se körningens rapport för mottagare och orsak.",
            counted(report.dead, "e-postmeddelande", "e-postmeddelanden"),
        )
    return report
