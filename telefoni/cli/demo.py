"""`telefoni demo`: fill an empty register with the fictional municipality."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telefoni.cli.common import register_engine
from telefoni.core.settings import get_settings


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
    from telefoni.core import migrate
    from telefoni.core.db import session_factory
    from telefoni.core.vault import vault_from

    settings = get_settings()
    engine = register_engine(settings, migrated=False)
    migrate.upgrade(engine)
    started = time.perf_counter()
    try:
        town = demo_data.generate(employees=employees, seed=seed)
        with session_factory(engine).begin() as session:
            counts = demo_data.load(session, town, vault=vault_from(settings))
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
