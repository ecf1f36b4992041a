"""`telefoni sync`: the nightly directory sync of one municipality, run by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telefoni.cli.common import register_engine, usage_error
from telefoni.core.settings import Settings, get_settings


def sync(
    path: Annotated[
        Path | None,
        typer.Argument(help="HR-exporten (CSV eller XLSX). Tomt = kommunens vanliga fil."),
    ] = None,
    kommun: Annotated[
        str | None,
        typer.Option(
            "--kommun", help="Vilken kommuns kunddatabas (kod eller namn); behövs med flera."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Räkna fram och rapportera allt, skriv inget.")
    ] = False,
    allow_mass_removal: Annotated[
        bool, typer.Option("--allow-mass-removal", help="Gå förbi bromsen (kräver --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Varför bromsen får passeras.")] = None,
) -> None:
    """Sync a municipality's contact-centre directory with its HR export (the nightly flow, by
    hand)."""
    import getpass

    from models.audit import Actor
    from models.hr_export import HrFileError, read_hr_export
    from models.sync_run import SyncStatus
    from tasks.directory_sync import SyncAlreadyRunning, options_from, run_sync, summary_markdown
    from telefoni.core.municipalities import MunicipalityError
    from telefoni.core.tenancy import municipality_id_of

    settings = get_settings()
    try:
        municipality = settings.kommun(kommun)
    except MunicipalityError as exc:
        raise usage_error(str(exc)) from None
    engine = register_engine(settings)  # refuses an outdated schema
    if allow_mass_removal and not (reason and reason.strip()):
        raise typer.BadParameter("--allow-mass-removal kräver --reason", param_hint="--reason")
    file = path or municipality.hr_export_path
    try:
        options = options_from(
            municipality,
            municipality_id_of(engine, municipality),
            dry_run=dry_run,
            allow_mass_removal=allow_mass_removal,
            reason=reason,
            actor=Actor.person(getpass.getuser()),
            flow_run_id=None,
        )
        report = run_sync(
            lambda: read_hr_export(file, column_map=municipality.hr_column_map or None),
            settings,
            options,
        )
    except (HrFileError, SyncAlreadyRunning) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except FileNotFoundError:
        typer.echo(f"HR-exporten finns inte: {file}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(summary_markdown(report))
    if report.status is SyncStatus.BRAKED:
        raise typer.Exit(3)
    if not dry_run and report.offboardings_started:
        _start_offboardings(settings, municipality.code)


def _start_offboardings(settings: Settings, code: str) -> None:
    """The runs of the offboardings the sync recorded (a server out of reach leaves them for
    the reminders watch, hourly: said, not failed)."""
    from telefoni.cli.server import use_prefect_api

    use_prefect_api(settings)
    from tasks.offboarding.prefect_tasks import start_runs

    started = start_runs([code])
    if started.made:
        typer.echo(f"Startade {started.made} avslutskörning(ar) i Prefect.")
    if started.warning:
        typer.echo(started.warning, err=True)
