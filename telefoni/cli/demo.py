"""`telefoni demo`: give a municipality without people a fictional town."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telefoni.cli.common import register_engine, usage_error
from telefoni.core.settings import get_settings


def demo(
    employees: Annotated[int, typer.Option(min=1, help="How many employees to create.")] = 1300,
    hr_export: Annotated[
        Path | None, typer.Option(help="Also write the matching HR export (CSV or .xlsx) here.")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Random seed; the same seed gives the same town (default: the municipality's "
            "own, so that two municipalities get different people)."
        ),
    ] = None,
    kommun: Annotated[
        str | None,
        typer.Option(help="The municipality (code or name); needed when there are several."),
    ] = None,
) -> None:
    """Fill a municipality that has no people yet with a fictional town."""
    import time

    from telefoni import demo as demo_data
    from telefoni.core import migrate
    from telefoni.core.db import session_factory
    from telefoni.core.municipalities import MunicipalityError
    from telefoni.core.tenancy import municipality_id
    from telefoni.core.vault import vault_from

    settings = get_settings()
    try:
        municipality = settings.kommun(kommun)
    except MunicipalityError as exc:
        raise usage_error(f"Demodata laddades inte: {exc}") from None
    engine = register_engine(settings, migrated=False)
    migrate.upgrade(engine)
    started = time.perf_counter()
    place = demo_data.place_for(municipality, settings.municipalities.index(municipality))
    try:
        chosen = place.seed if seed is None else seed
        town = demo_data.generate(employees=employees, seed=chosen, place=place)
        with session_factory(engine).begin() as session:
            mid = municipality_id(session, municipality)
            counts = demo_data.load(session, town, vault=vault_from(settings), municipality_id=mid)
    except demo_data.DemoError as exc:
        typer.echo(f"Demodata laddades inte: {exc}", err=True)
        raise typer.Exit(1) from None
    if hr_export is not None:
        demo_data.write_hr_export(town, hr_export)
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{n} {what}" for what, n in counts.items())
    typer.echo(f"Demodata för {municipality.name} laddad på {elapsed:.1f} s: {summary}")
    if hr_export is not None:
        typer.echo(f"HR-exporten skriven till {hr_export}")
