"""`telefoni mail`: send what the outbox holds, see what waits and what died."""

from __future__ import annotations

from typing import Annotated

import typer

from telefoni.cli.common import register_engine
from telefoni.core.settings import get_settings

app = typer.Typer(help="The e-mail outbox (utkorgen).", no_args_is_help=True)


@app.command("send")
def mail_send(batch_size: Annotated[int, typer.Option(min=1)] = 500) -> None:
    """Send what the outbox holds now (what the notification-relay flow does every minute)."""
    from tasks.mail import MailServerUnavailable, transport_from
    from tasks.outbox import relay_outbox, relay_policy

    settings = get_settings()
    try:
        report = relay_outbox(
            register_engine(settings),
            transport_from(settings),
            policy=relay_policy(settings),
            batch_size=batch_size,
        )
    except MailServerUnavailable as exc:
        typer.echo(f"E-postservern gick inte att nå: {exc}. Inget har gått förlorat.", err=True)
        raise typer.Exit(1) from None
    if report.skipped:
        typer.echo("Ett annat utskick pågår redan.")
        return
    typer.echo(
        f"Skickade {report.sent}, försöker igen senare {report.retry_later}, "
        f"döda brev {report.dead}, kvar i utkorgen {report.still_pending}."
    )


@app.command("status")
def mail_status() -> None:
    """How many mails wait, went out and died; the dead letters with their reasons."""
    from sqlalchemy import func, select

    from models.outbox import OutboxMessage, OutboxStatus
    from telefoni.core.db import session_factory

    with session_factory(register_engine(get_settings()))() as session:
        counts = dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            .tuples()
            .all()
        )
        dead = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.subject, OutboxMessage.last_error)
            .where(OutboxMessage.status == OutboxStatus.DEAD)
            .order_by(OutboxMessage.id)
        ).all()
    names = {"pending": "väntar", "sent": "skickade", "dead": "döda brev"}
    for status in OutboxStatus:
        typer.echo(f"{names[status.value]}: {counts.get(status, 0)}")
    for recipient, subject, error in dead:
        typer.echo(f"  {recipient} – {subject}: {error}")
