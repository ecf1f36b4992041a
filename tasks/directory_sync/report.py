"""A run's report: the change list, the run's record, the contact centre's mail, the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.orm import Session

from models.base import utcnow
from models.directory_sync import FIELD_LABELS, SyncPlan
from models.hr_export import HrExport, Validated
from models.outbox import Attachment, enqueue
from models.sync_report import XLSX_TYPE, started_sv, summary_context
from models.sync_run import HrQuarantine, SyncRun, SyncStatus
from models.wording import counted, number
from tasks.directory_sync.options import SyncOptions


@dataclass
class SyncReport:
    """What a run did, for the CLI, the artifacts and the tests."""

    file_name: str
    municipality: str  # its name
    status: SyncStatus
    rows_read: int
    rows_applied: int
    rows_unchanged: int
    rows_quarantined: int
    joiners: int
    changed: int
    leavers: int
    message: str | None = None
    offboardings_started: int = 0  # recorded in the run's transaction; their runs after it
    sync_run_id: int | None = None
    extra_columns: tuple[str, ...] = ()
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)  # for the artifact table
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)


def _report(
    export: HrExport, p: SyncPlan, checked: Validated, status: SyncStatus, municipality: str
) -> SyncReport:
    return SyncReport(
        file_name=export.path.name,
        municipality=municipality,
        status=status,
        rows_read=p.rows_read,
        rows_applied=p.rows_applied,
        rows_unchanged=p.rows_unchanged,
        rows_quarantined=p.rows_quarantined,
        joiners=len(p.joiners),
        changed=len(p.changed),
        leavers=len(p.leavers),
        extra_columns=export.extra_columns,
        changes=_change_list(p),
        quarantine=checked.quarantine,
    )


def _change_list(p: SyncPlan) -> pd.DataFrame:
    """One row per change as the contact centre reads it (no personnummer values)."""

    def rows(people: pd.DataFrame, change: str, after: Any = "") -> pd.DataFrame:
        return pd.DataFrame(
            {
                "anställningsnummer": people["employee_number"],
                "namn": people["name"],
                "ändring": change,
                "fält": "",
                "före": "",
                "efter": after,
            }
        )

    names = pd.concat([p.changed, p.directory_missing])[["employee_number", "name"]]
    name_of = names.drop_duplicates("employee_number").set_index("employee_number")["name"]
    hidden = p.changes["field"] == "personnummer_hash"
    changed = pd.DataFrame(
        {
            "anställningsnummer": p.changes["employee_number"],
            "namn": p.changes["employee_number"].map(name_of),
            "ändring": "ändrad",
            "fält": p.changes["field"].map(FIELD_LABELS),
            "före": p.changes["before"].where(~hidden, "(dolt)"),
            "efter": p.changes["after"].where(~hidden, "(ändrat)"),
        }
    )
    return pd.concat(
        [
            rows(p.joiners, "ny i kunddatabasen"),
            changed,
            rows(p.directory_missing, "saknades i kunddatabasen"),
            rows(p.leavers, "tas bort ur kunddatabasen", after=p.leavers["reason"]),
        ],
        ignore_index=True,
    )


def _record_run(
    session: Session,
    export: HrExport,
    report: SyncReport,
    options: SyncOptions,
    checked: Validated,
) -> SyncRun:
    run = SyncRun(
        municipality_id=options.municipality.id,
        file_name=str(export.path),
        file_sha256=export.sha256,
        status=report.status,
        rows_read=report.rows_read,
        rows_applied=report.rows_applied if report.status is SyncStatus.APPLIED else 0,
        rows_unchanged=report.rows_unchanged,
        rows_quarantined=report.rows_quarantined,
        joiners=report.joiners,
        changed=report.changed,
        leavers=report.leavers,
        mass_removal_allowed=options.allow_mass_removal,
        override_reason=options.override_reason,
        message=report.message,
        flow_run_id=options.flow_run_id,
        finished_at=utcnow(),
    )
    session.add(run)
    session.flush()
    report.sync_run_id = run.id
    q = checked.quarantine
    if len(q):
        session.execute(
            insert(HrQuarantine),
            [
                {
                    "municipality_id": options.municipality.id,
                    "sync_run_id": run.id,
                    "row_number": int(r.row),
                    "employee_number": r.employee_number or None,
                    "field": r.field,
                    "reason": str(r.reason),
                    "detail": r.detail,
                }
                for r in q.itertuples(index=False)
            ],
        )
    return run


def _notify(session: Session, report: SyncReport, options: SyncOptions, workbook: bytes) -> None:
    """The run's changes to the municipality's contact centre, from and signed by it."""
    enqueue(
        session,
        template="katalogsynk",
        business_key=f"sync-run-{report.sync_run_id}",
        recipient=options.contact_centre_email,
        sender=options.sender,
        context=summary_context(
            report, municipality=options.municipality.name, run_url=options.run_url
        ),
        attachments=[
            Attachment(
                filename=f"kunddatabas-andringar-{report.sync_run_id}.xlsx",
                content_type=XLSX_TYPE,
                content=workbook,
            )
        ],
    )


def log_lines(report: SyncReport) -> list[str]:
    """What the run did, in a few Swedish lines with counts, for the run's log (no names, no
    personnummer): what was read, what the directory gets, and whether it was written."""
    lines = [
        f"Läste {counted(report.rows_read, 'rad', 'rader')} ur HR-exporten "
        f"{report.file_name} ({number(report.rows_quarantined)} i karantän).",
        f"Kunddatabasen: {counted(report.joiners, 'ny', 'nya')}, "
        f"{counted(report.changed, 'ändrad', 'ändrade')}, "
        f"{counted(report.leavers, 'borttagen', 'borttagna')}, "
        f"{counted(report.rows_unchanged, 'oförändrad', 'oförändrade')}.",
    ]
    if report.status is SyncStatus.BRAKED:
        lines.append(f"Bromsen stoppade synken, inget skrevs: {report.message}")
    elif report.status is SyncStatus.DRY_RUN:
        lines.append(
            "Provkörning: inget skrevs." + (f" {report.message}" if report.message else "")
        )
    else:
        lines.append(f"Ändringarna är skrivna i kunddatabasen för {report.municipality}.")
        if report.offboardings_started:
            lines.append(f"{started_sv(report.offboardings_started)} (§8.1).")
    if report.rows_quarantined:
        lines.append(
            f"{counted(report.rows_quarantined, 'rad', 'rader')} i karantän lästes inte in; "
            "personernas poster står kvar som de var; orsakerna står i körningens karantäntabell."
        )
    return lines


def summary_markdown(report: SyncReport) -> str:
    """The run in a few lines, for the flow run's artifact and the terminal."""
    status = {
        SyncStatus.APPLIED: "genomförd",
        SyncStatus.DRY_RUN: "provkörning – inget skrevs",
        SyncStatus.BRAKED: "STOPPAD – inget skrevs",
    }[report.status]
    lines = [
        f"## Katalogsynk, {report.municipality}: {status}",
        "",
        f"Fil: `{report.file_name}`",
        "",
        "| | antal |",
        "| --- | ---: |",
        f"| rader i HR-exporten | {report.rows_read} |",
        f"| rader som gav ändringar | {report.rows_applied} |",
        f"| rader utan ändring | {report.rows_unchanged} |",
        f"| rader i karantän | {report.rows_quarantined} |",
        f"| nya personer | {report.joiners} |",
        f"| ändrade personer | {report.changed} |",
        f"| borttagna ur kunddatabasen | {report.leavers} |",
        f"| avslut startade | {report.offboardings_started} |",
    ]
    if report.message:
        lines += ["", f"**{report.message}**"]
    if report.extra_columns:
        lines += ["", "Okända kolumner som inte lästes: " + ", ".join(report.extra_columns)]
    return "\n".join(lines)
