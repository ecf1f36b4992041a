"""`telefoni audit`: check the audit trail's hash chain, show one object's history."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from telefoni.cli.common import register_engine, usage_error
from telefoni.core.settings import get_settings

app = typer.Typer(help="The audit trail (händelseloggen).", no_args_is_help=True)


@app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 and name the first event that is not as written."""
    from models import audit
    from telefoni.core.db import session_factory

    with session_factory(register_engine(get_settings()))() as session:
        verdict = audit.verify(session)
    if verdict.intact:
        typer.echo(f"Händelseloggen är hel: {verdict.checked} händelser kontrollerade.")
        typer.echo(f"Senaste hash: {verdict.last_hash}")
        return
    typer.echo(f"Händelseloggen är inte hel: händelse {verdict.bad_seq}: {verdict.problem}.")
    typer.echo(f"({verdict.checked} händelser före den stämmer.)")
    raise typer.Exit(1)


@app.command("show")
def audit_show(
    employee: Annotated[str | None, typer.Option(help="Anställningsnummer.")] = None,
    subscription: Annotated[str | None, typer.Option(help="Telefonnummer, E.164.")] = None,
    device: Annotated[str | None, typer.Option(help="Enhetens id eller IMEI.")] = None,
    order: Annotated[
        str | None, typer.Option(help="Beställningens referens, t.ex. TEL-000123.")
    ] = None,
    kommun: Annotated[
        str | None,
        typer.Option(
            help="Kommunens kod eller namn: bara dess händelser. Behövs för --employee när "
            "flera kommuner finns (anställningsnummer är unika bara inom en kommun)."
        ),
    ] = None,
    last: Annotated[
        int, typer.Option(help="Utan objekt: så många av kommunens senaste händelser.", min=1)
    ] = 200,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write every field to this CSV file instead.")
    ] = None,
) -> None:
    """The history of one employee, subscription, device or onboarding order; with only
    --kommun, that municipality's latest events (with --csv: all of them)."""
    from telefoni.cli.audit_report import object_history, readable_rows, write_csv
    from telefoni.core.db import session_factory
    from telefoni.core.municipalities import MunicipalityError

    chosen = [
        (t, v)
        for t, v in [
            ("employee", employee),
            ("subscription", subscription),
            ("device", device),
            ("onboarding_order", order.strip().upper() if order else None),
        ]
        if v is not None
    ]
    if len(chosen) > 1 or not (chosen or kommun):
        raise typer.BadParameter(
            "ange en av --employee, --subscription, --device, --order, eller --kommun"
        )
    object_type, object_id = chosen[0] if chosen else (None, None)
    settings = get_settings()
    code = name = None
    # An employee number is one person only within a municipality: which one must be clear.
    if kommun is not None or object_type in (None, "employee") or len(settings.municipalities) == 1:
        try:
            municipality = settings.kommun(kommun)
        except MunicipalityError as exc:
            raise usage_error(str(exc)) from None
        code, name = municipality.code, municipality.name
    with session_factory(register_engine(settings))() as session:
        events = object_history(
            session,
            object_type,
            object_id,
            municipality=code,
            last=None if object_type or csv_path else last,
        )
    what = f"{object_type} {object_id}" if object_type else "alla"
    where = f" i {name}" if code and len(settings.municipalities) > 1 else ""
    if csv_path is not None:
        write_csv(events, csv_path)
        typer.echo(f"{len(events)} händelser skrivna till {csv_path}")
        return
    if not events:
        typer.echo(f"Inga händelser för {what}{where}.")
        return
    _print_rows(readable_rows(events, settings.tz), f"Historik: {what}{where}")


def _print_rows(rows: list[dict[str, str]], title: str) -> None:
    """A table in a terminal; piped or redirected, one plain line per event, nothing folded."""
    if not sys.stdout.isatty():
        typer.echo(" | ".join(rows[0]))
        for row in rows:
            typer.echo(" | ".join(row.values()))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)
