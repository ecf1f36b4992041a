"""Directory sync: every night, each municipality's HR export → its contact centre's directory
(§3.1). A run is of one municipality (`kommun`); those of different municipalities run side by
side, two of the same never (the sync's lock per municipality)."""

from __future__ import annotations

from datetime import datetime

from prefect import State, flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Cancelled

from models.audit import Actor
from tasks.directory_sync import SyncAlreadyRunning, SyncReport, options_from, run_sync
from tasks.directory_sync.tasks import publish, read_export
from tasks.offboarding.prefect_tasks import start_task
from telefoni.core.settings import get_settings


def _run_name() -> str:
    """The run's name in the UI: whose sync it is, and the day (Swedish time)."""
    try:
        settings = get_settings()
        code = settings.kommun(flow_run.parameters.get("kommun")).code
        day = f"{datetime.now(settings.tz):%Y-%m-%d}"
    except Exception:  # the run itself then fails, saying why; the name need not
        return "katalogsynk-okänd-kommun"
    return f"katalogsynk-{code}-{day}"


@flow(
    name="directory-sync",
    flow_run_name=_run_name,
    persist_result=False,  # the report names people; the register and the artifacts keep it
    description="Läser en kommuns HR-export och uppdaterar kommunens kunddatabas hos "
    "kontaktcenter (§3.1): nya, ändrade och slutade personer, med karantän för felaktiga rader "
    "och broms mot massborttagning. Startar avslut för dem som slutar (§8.1).",
)
def directory_sync(
    kommun: str | None = None,
    path: str | None = None,
    dry_run: bool = False,
    allow_mass_removal: bool = False,
    reason: str | None = None,
    started_by: str | None = None,
) -> SyncReport | State[None]:
    """HR-exporten in i kunddatabasen: läs, kontrollera, jämför, bromsa, skriv, rapportera.

    Args:
        kommun: Kommun: vilken kommuns HR-export som läses. Tomt = den enda kommunen.
        path: Sökväg till HR-exporten (CSV eller XLSX). Tomt = kommunens vanliga fil.
        dry_run: Provkörning: räkna fram och rapportera allt, men skriv inget.
        allow_mass_removal: Gå förbi bromsen mot att ta bort många poster. Kräver en anledning.
        reason: Varför bromsen får passeras (hamnar i händelseloggen).
        started_by: Ditt användar-id, om du startar synken för hand (hamnar i händelseloggen).
    """
    from telefoni.core.db import get_engine
    from telefoni.core.tenancy import municipality_id_of

    settings = get_settings()
    municipality = settings.kommun(kommun)
    file = path or str(municipality.hr_export_path)
    reader = read_export.with_options(
        retries=settings.hr_read_retries, retry_delay_seconds=settings.hr_read_retry_seconds
    )
    run_id = str(flow_run.id) if flow_run.id else None
    actor = Actor.person(started_by) if started_by else Actor.flow_run(run_id or "okänd")
    options = options_from(
        municipality,
        municipality_id_of(get_engine(settings.database_url), municipality),
        dry_run=dry_run,
        allow_mass_removal=allow_mass_removal,
        reason=reason,
        actor=actor,
        flow_run_id=run_id,
        run_url=f"{settings.prefect_ui_url.rstrip('/')}/runs/flow-run/{run_id}" if run_id else None,
    )
    columns = municipality.hr_column_map or None
    try:
        # The file is read (and retried while still being written) once this run holds the
        # municipality's lock; the register is read meanwhile.
        report = run_sync(lambda: reader(file, columns), settings, options)
    except SyncAlreadyRunning as exc:
        # Not a failure: tonight's sync of this municipality is already under way.
        get_run_logger().info(str(exc))
        return Cancelled(message=str(exc))
    publish(report, municipality.code, municipality.hr_column_map or None)
    if not dry_run:
        # After the commit: the runs of the offboardings recorded (tonight's, and any an
        # earlier start could not make). Nothing here fails the sync: what is not made now,
        # the reminders watch makes within the hour.
        start_task([municipality.code])
    return report
