"""The sync's Prefect tasks: reading the HR file (retried while it is written), publishing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from models.hr_export import HrExport, HrFileIncomplete, read_hr_export
from models.hr_export.reasons import quarantine_for_people
from models.wording import counted
from tasks.directory_sync.report import SyncReport, log_lines, summary_markdown

ARTIFACT_ROWS = 500


class HrFileMissing(FileNotFoundError):
    """No HR export where it should be (yet): HR's export job may be late."""


def _still_being_written(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except (HrFileIncomplete, HrFileMissing):
        return True
    except Exception:
        return False
    return False


@task(
    name="Läs HR-exporten",
    retries=5,
    retry_delay_seconds=30,
    retry_condition_fn=_still_being_written,
    persist_result=False,  # the rows hold personnummer: never into result storage
    cache_policy=NO_CACHE,
)
def read_export(path: str, column_map: dict[str, str] | None = None) -> HrExport:
    """Read the HR file; retried only while it is missing or looks half-written."""
    try:
        export = read_hr_export(Path(path), column_map=column_map)
    except FileNotFoundError:
        raise HrFileMissing(f"HR-exporten finns inte: {path}") from None
    except PermissionError:
        raise PermissionError(f"HR-exporten går inte att läsa (behörighet): {path}") from None
    unknown = f"; okända kolumner lästes inte: {', '.join(export.extra_columns)}"
    get_run_logger().info(
        "HR-exporten %s är läst: %s (teckenkodning %s)%s.",
        export.path.name,
        counted(len(export.rows), "rad", "rader"),
        export.encoding,
        unknown if export.extra_columns else "",
    )
    return export


@task(name="Rapportera katalogsynken", cache_policy=NO_CACHE, persist_result=False)
def publish(
    report: SyncReport, municipality_code: str, column_names: dict[str, str] | None = None
) -> None:
    """What the run did in the run's log, and the markdown summary and the change and
    quarantine tables on the run, under keys with the municipality's code (each
    municipality's latest run apart from the others'). The quarantine as people read it:
    Swedish headers and reasons, fields as HR's file (``column_names``: its column map)
    names them."""
    logger = get_run_logger()
    for line in log_lines(report):
        logger.info(line)
    key, where = f"directory-sync-{municipality_code}", report.municipality
    create_markdown_artifact(
        key=key, markdown=summary_markdown(report), description=f"Katalogsynk – {where}"
    )
    if len(report.changes):
        create_table_artifact(
            key=f"{key}-changes",
            table=report.changes.head(ARTIFACT_ROWS).astype(str).to_dict("records"),
            description=f"Ändringar i kunddatabasen, {where} (de första {ARTIFACT_ROWS}; "
            "alla finns i e-postens bilaga)",
        )
    if len(report.quarantine):
        create_table_artifact(
            key=f"{key}-quarantine",
            table=quarantine_for_people(report.quarantine.head(ARTIFACT_ROWS), column_names)
            .astype(str)
            .to_dict("records"),
            description=f"Rader i karantän, {where} (värden visas inte)",
        )
