"""`telefoni sync`: the nightly directory sync, run by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telefoni.cli.common import register_engine
from telefoni.core.settings import get_settings


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

    from flows.directory_sync import options_from, run_sync
    from models.audit import Actor
    from models.directory_sync import SyncStatus
    from models.hr_export import HrFileError, read_hr_export
    from tasks.directory_sync import SyncAlreadyRunning, summary_markdown

    settings = get_settings()
    register_engine(settings)  # refuses an outdated schema
    if allow_mass_removal and not (reason and reason.strip()):
        raise typer.BadParameter("--allow-mass-removal kräver --reason", param_hint="--reason")
    try:
        options = options_from(
            settings,
            dry_run=dry_run,
            allow_mass_removal=allow_mass_removal,
            reason=reason,
            actor=Actor.person(getpass.getuser()),
            flow_run_id=None,
        )
        report = run_sync(
            lambda: read_hr_export(
                path or settings.hr_export_path, column_map=settings.hr_column_map or None
            ),
            settings,
            options,
        )
    except (HrFileError, SyncAlreadyRunning) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except FileNotFoundError:
        typer.echo(f"HR-exporten finns inte: {path or settings.hr_export_path}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary_markdown(report))
    if report.status is SyncStatus.BRAKED:
        raise typer.Exit(3)
