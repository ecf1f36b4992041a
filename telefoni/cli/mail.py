"""`telefoni mail`: send what the outbox holds, see what waits and what died."""

from __future__ import annotations

from typing import Annotated

import typer

from telefoni.cli.common import register_engine, usage_error
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
def mail_status(
    kommun: Annotated[
        str | None,
        typer.Option(
            help="Visa den kommunens döda brev (kod eller namn); behövs när flera kommuner finns."
        ),
    ] = None,
) -> None:
    """How many mails wait, went out and died; a municipality's dead letters with their
    reasons (each municipality sees only the mail sent in its name)."""
    from sqlalchemy import func, select

    from models.outbox import OutboxMessage, OutboxStatus
    from tasks.mail import from_header
    from telefoni.core.db import session_factory
    from telefoni.core.municipalities import MunicipalityError

    settings = get_settings()
    try:
        municipality = settings.kommun(kommun)
    except MunicipalityError as exc:
        if kommun is not None:
            raise usage_error(str(exc)) from None
        municipality = None  # several, none named: counts only
    with session_factory(register_engine(settings))() as session:
        counts: dict[OutboxStatus, int] = {
            status: count
            for status, count in session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
        }
        dead = session.execute(
            select(
                OutboxMessage.recipient,
                OutboxMessage.subject,
                OutboxMessage.last_error,
                OutboxMessage.raw,
            )
            .where(OutboxMessage.status == OutboxStatus.DEAD)
            .order_by(OutboxMessage.id)
        ).all()
    names = {"pending": "väntar", "sent": "skickade", "dead": "döda brev"}
    for status in OutboxStatus:
        typer.echo(f"{names[status.value]}: {counts.get(status, 0)}")
    if municipality is None:
        if dead:
            typer.echo(
                "De döda breven visas kommun för kommun: ange vilken med --kommun; här finns "
                + ", ".join(f"{m.code} ({m.name})" for m in settings.municipalities)
            )
        return
    only = len(settings.municipalities) == 1
    sender = (municipality.sender_name, str(municipality.mail_from).casefold())
    for recipient, subject, error, raw in dead:
        name, address = from_header(raw)
        if only or (name, address.casefold()) == sender:  # sent in this municipality's name
            typer.echo(f"  {recipient} – {subject}: {error}")
