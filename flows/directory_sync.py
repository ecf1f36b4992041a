"""Directory sync: every night, HR's export → the contact centre's directory (§3.1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prefect import flow
from prefect.runtime import flow_run

from models.audit import Actor
from models.directory_sync import BrakeLimits
from models.hr_export import HrExport
from models.outbox import Sender
from tasks.directory_sync import SyncOptions, SyncReport, publish, read_export, sync_directory
from telefoni.core.settings import Settings, get_settings


def options_from(
    settings: Settings,
    *,
    dry_run: bool,
    allow_mass_removal: bool,
    reason: str | None,
    actor: Actor,
    flow_run_id: str | None,
) -> SyncOptions:
    if allow_mass_removal and not (reason and reason.strip()):
        raise ValueError("--allow-mass-removal kräver en anledning (--reason)")
    return SyncOptions(
        dry_run=dry_run,
        allow_mass_removal=allow_mass_removal,
        override_reason=reason,
        limits=BrakeLimits(
            max_removal_share=settings.sync_max_removal_share,
            max_removal_count=settings.sync_max_removal_count,
            max_shrink_share=settings.sync_max_shrink_share,
        ),
        contact_centre_email=str(settings.contact_centre_email),
        sender=Sender(str(settings.mail_from), settings.sender_name),
        municipality=settings.municipality,
        actor=actor,
        flow_run_id=flow_run_id,
    )


def run_sync(
    export: HrExport | Callable[[], HrExport],
    settings: Settings,
    options: SyncOptions,
    *,
    today: datetime | None = None,
) -> SyncReport:
    """The sync itself, outside Prefect too (the CLI uses it). ``export``: the export, or how
    to read it (then the register is read meanwhile)."""
    from telefoni.core.db import get_engine
    from telefoni.core.vault import vault_from

    now = today or datetime.now(settings.tz)
    return sync_directory(
        get_engine(settings.database_url),
        export,
        vault=vault_from(settings),
        options=options,
        today=now.date(),
    )


@flow(
    name="directory-sync",
    persist_result=False,  # the report names people; the register and the artifacts keep it
    description="Läser HR-exporten och uppdaterar kontaktcenters kunddatabas (§3.1): nya, "
    "ändrade och slutade personer, med karantän för felaktiga rader och broms mot "
    "massborttagning.",
)
def directory_sync(
    path: str | None = None,
    dry_run: bool = False,
    allow_mass_removal: bool = False,
    reason: str | None = None,
    started_by: str | None = None,
) -> SyncReport:
    """HR-exporten in i kunddatabasen: läs, kontrollera, jämför, bromsa, skriv, rapportera.

    Args:
        path: Sökväg till HR-exporten (CSV eller XLSX). Tomt = den vanliga filen.
        dry_run: Provkörning: räkna fram och rapportera allt, men skriv inget.
        allow_mass_removal: Gå förbi bromsen mot att ta bort många poster. Kräver en anledning.
        reason: Varför bromsen får passeras (hamnar i händelseloggen).
        started_by: Ditt användar-id, om du startar synken för hand (hamnar i händelseloggen).
    """
    settings = get_settings()
    file = path or str(settings.hr_export_path)
    reader = read_export.with_options(
        retries=settings.hr_read_retries, retry_delay_seconds=settings.hr_read_retry_seconds
    )
    run_id = str(flow_run.id) if flow_run.id else None
    actor = Actor.person(started_by) if started_by else Actor.flow_run(run_id or "okänd")
    options = options_from(
        settings,
        dry_run=dry_run,
        allow_mass_removal=allow_mass_removal,
        reason=reason,
        actor=actor,
        flow_run_id=run_id,
    )
    # The file is read (and retried while still being written) once this run holds the
    # sync's lock; the register is read meanwhile.
    report = run_sync(lambda: reader(file, settings.hr_column_map or None), settings, options)
    publish(report)
    return report
