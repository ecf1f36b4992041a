"""The `telefoni` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from telefoni.settings import Settings, generate_key, get_settings

app = typer.Typer(
    help="Telefoni: the municipality's telephony lifecycle, run as Prefect flows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # locals can hold personal data
)
db_app = typer.Typer(help="The register's database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys that protect personnummer.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail (händelseloggen).", no_args_is_help=True)
mail_app = typer.Typer(help="The e-mail outbox (utkorgen).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(mail_app, name="mail")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")


def _engine(settings: Settings, *, migrated: bool = True) -> Engine:
    """The register's engine; by default refuse a schema that is not up to date."""
    from telefoni import migrate
    from telefoni.db import make_engine

    engine = make_engine(settings.database_url)
    if migrated and migrate.current_revision(engine) != migrate.head_revision():
        typer.echo(
            f"Databasens schema är inte uppdaterat ({engine.url.render_as_string()}): "
            "kör `telefoni db upgrade` först.",
            err=True,
        )
        raise typer.Exit(2)
    return engine


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for ours in ("telefoni", "models", "tasks", "flows"):
        logging.getLogger(ours).setLevel(logging.DEBUG if verbose else logging.INFO)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create the schema, or bring it up to date (SQLite or PostgreSQL)."""
    from telefoni import migrate

    settings = get_settings()
    engine = _engine(settings, migrated=False)
    migrate.upgrade(engine, revision)
    typer.echo(f"Schemat är uppdaterat ({revision}) i {engine.url.render_as_string()}")


@db_app.command("check")
def db_check() -> None:
    """Exit non-zero if the database schema differs from the models."""
    from telefoni import migrate

    differences = migrate.drift(_engine(get_settings(), migrated=False))
    for diff in differences:
        typer.echo(repr(diff))
    if differences:
        raise typer.Exit(1)
    typer.echo("Schemat stämmer med modellerna.")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m")]) -> None:
    """Write a new migration from what the models add to the current schema."""
    from telefoni import migrate

    migrate.revision(_engine(get_settings(), migrated=False), message)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 and name the first event that is not as written."""
    from models import audit
    from telefoni.db import session_factory

    with session_factory(_engine(get_settings()))() as session:
        verdict = audit.verify(session)
    if verdict.intact:
        typer.echo(f"Händelseloggen är hel: {verdict.checked} händelser kontrollerade.")
        typer.echo(f"Senaste hash: {verdict.last_hash}")
        return
    typer.echo(f"Händelseloggen är inte hel: händelse {verdict.bad_seq}: {verdict.problem}.")
    typer.echo(f"({verdict.checked} händelser före den stämmer.)")
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    employee: Annotated[str | None, typer.Option(help="Anställningsnummer.")] = None,
    subscription: Annotated[str | None, typer.Option(help="Telefonnummer, E.164.")] = None,
    device: Annotated[str | None, typer.Option(help="Enhetens id eller IMEI.")] = None,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write every field to this CSV file instead.")
    ] = None,
) -> None:
    """The history of one employee, subscription or device."""
    from rich.console import Console
    from rich.table import Table

    from telefoni.audit_report import object_history, readable_rows, write_csv
    from telefoni.db import session_factory

    chosen = [
        (t, v)
        for t, v in [("employee", employee), ("subscription", subscription), ("device", device)]
        if v is not None
    ]
    if len(chosen) != 1:
        raise typer.BadParameter("ange exakt en av --employee, --subscription, --device")
    object_type, object_id = chosen[0]
    settings = get_settings()
    with session_factory(_engine(settings))() as session:
        events = object_history(session, object_type, object_id)
    if csv_path is not None:
        write_csv(events, csv_path)
        typer.echo(f"{len(events)} händelser skrivna till {csv_path}")
        return
    if not events:
        typer.echo(f"Inga händelser för {object_type} {object_id}.")
        return
    rows = readable_rows(events, settings.tz)
    if not sys.stdout.isatty():  # piped or redirected: one plain line per event, nothing folded
        typer.echo(" | ".join(rows[0]))
        for row in rows:
            typer.echo(" | ".join(row.values()))
        return
    table = Table(title=f"Historik: {object_type} {object_id}")
    for column in rows[0]:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)


@app.command()
def sync(
    path: Annotated[Path | None, typer.Argument(help="HR-exporten (CSV eller XLSX).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Räkna fram och rapportera allt, skriv inget.")
    ] = False,
    allow_mass_removal: Annotated[
        bool, typer.Option("--allow-mass-removal", help="Gå förbi bromsen (kräver --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Varför bromsen får passeras.")] = None,
) -> None:
    """Sync the contact centre's directory with an HR export (the nightly flow, by hand)."""
    import getpass

    from flows.directory_sync import options_from, run_sync, summary_markdown
    from models.audit import Actor
    from models.directory_sync import SyncStatus
    from models.hr_export import HrFileError, read_hr_export
    from tasks.directory_sync import SyncAlreadyRunning

    settings = get_settings()
    _engine(settings)  # refuses an outdated schema
    if allow_mass_removal and not (reason and reason.strip()):
        raise typer.BadParameter("--allow-mass-removal kräver --reason", param_hint="--reason")
    try:
        export = read_hr_export(
            path or settings.hr_export_path, column_map=settings.hr_column_map or None
        )
        options = options_from(
            settings,
            dry_run=dry_run,
            allow_mass_removal=allow_mass_removal,
            reason=reason,
            actor=Actor.person(getpass.getuser()),
            flow_run_id=None,
        )
        report = run_sync(export, settings, options)
    except (HrFileError, SyncAlreadyRunning) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except FileNotFoundError:
        typer.echo(f"HR-exporten finns inte: {path or settings.hr_export_path}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary_markdown(report))
    if report.status is SyncStatus.BRAKED:
        raise typer.Exit(3)


@mail_app.command("send")
def mail_send(batch_size: Annotated[int, typer.Option(min=1)] = 500) -> None:
    """Send what the outbox holds now (what the notification-relay flow does every minute)."""
    from tasks.mail import MailServerUnavailable, transport_from
    from tasks.outbox import relay_outbox

    settings = get_settings()
    try:
        report = relay_outbox(
            _engine(settings),
            transport_from(settings),
            policy=settings.relay_policy(),
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


@mail_app.command("status")
def mail_status() -> None:
    """How many mails wait, went out and died; the dead letters with their reasons."""
    from sqlalchemy import func, select

    from models.outbox import OutboxMessage, OutboxStatus
    from telefoni.db import session_factory

    with session_factory(_engine(get_settings()))() as session:
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


@keys_app.command("generate")
def keys_generate() -> None:
    """Print two new keys for TELEFONI_PNR_ENCRYPTION_KEY and TELEFONI_PNR_LOOKUP_KEY."""
    typer.echo(f"TELEFONI_PNR_ENCRYPTION_KEY={generate_key()}")
    typer.echo(f"TELEFONI_PNR_LOOKUP_KEY={generate_key()}")


@app.command()
def demo(
    employees: Annotated[int, typer.Option(min=1, help="How many employees to create.")] = 1300,
    hr_export: Annotated[
        Path | None, typer.Option(help="Also write the matching HR export (CSV or .xlsx) here.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same town.")] = 1,
) -> None:
    """Fill an empty register with a fictional municipality."""
    import time

    from telefoni import demo as demo_data
    from telefoni import migrate
    from telefoni.db import session_factory

    settings = get_settings()
    engine = _engine(settings, migrated=False)
    migrate.upgrade(engine)
    started = time.perf_counter()
    try:
        town = demo_data.generate(employees=employees, seed=seed)
        with session_factory(engine).begin() as session:
            counts = demo_data.load(session, town, vault=demo_data.vault_from(settings))
    except demo_data.DemoError as exc:
        typer.echo(f"Demodata laddades inte: {exc}", err=True)
        raise typer.Exit(1) from None
    if hr_export is not None:
        demo_data.write_hr_export(town, hr_export)
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{n} {what}" for what, n in counts.items())
    typer.echo(f"Demokommunen laddad på {elapsed:.1f} s: {summary}")
    if hr_export is not None:
        typer.echo(f"HR-exporten skriven till {hr_export}")


@app.command()
def up(
    demo_employees: Annotated[
        int, typer.Option(help="Employees in the demo municipality (when the register is empty).")
    ] = 1300,
) -> None:
    """Start the whole system: Prefect server and UI, every deployment served, demo data."""
    from telefoni.system import run_system

    raise typer.Exit(run_system(get_settings(), demo_employees=demo_employees))


if __name__ == "__main__":  # pragma: no cover
    app()
