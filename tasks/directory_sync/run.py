"""The whole run: one at a time per municipality, the register read beside the file, the steps
in order. A run is of one municipality: it reads that one's export, people, units and runs, and
everything it writes carries that one's id."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import audit
from models.directory_sync import (
    SyncPlan,
    SyncRun,
    SyncStatus,
    brake,
    desired_frame,
    hr_digest_key,
    plan,
)
from models.hr_export import HrExport, Validated, distinct_values, no_gc, row_digests, validate
from models.personnummer import Personnummer, PersonnummerVault
from models.register import CostCentre, OrgUnit
from models.sync_report import changes_workbook
from tasks.directory_sync.apply import _apply
from tasks.directory_sync.matching import (
    Matched,
    _candidates,
    _match,
    _protected,
    _unchanged_frame,
    _wanted,
)
from tasks.directory_sync.options import SyncOptions
from tasks.directory_sync.register import (
    _codes,
    _last_applied_sha,
    _last_rows_read,
    _people,
    _read_current,
    _read_register,
    directory_size,
)
from tasks.directory_sync.report import SyncReport, _notify, _record_run, _report
from tasks.directory_sync.sql import _in_memory
from telefoni.core.locks import exclusive_run


class SyncAlreadyRunning(RuntimeError):
    """Another directory sync of the same municipality holds its lock; this one did nothing."""


class SyncBraked(RuntimeError):
    """The plan would remove too much; nothing was written."""


def sync_directory(
    engine: Engine,
    export: HrExport | Callable[[], HrExport],
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
    register_read: Callable[[], object] | None = None,
) -> SyncReport:
    """Validate, plan, brake and apply one HR export of ``options.municipality``; one run at a
    time per municipality, whoever starts it (those of other municipalities run alongside).

    ``export``: the export, or how to read it. The register is read meanwhile, on a connection
    of its own: the database works while Python parses the file (and hashes its rows). If
    anything was written to the register after that read began (every change appends to the
    audit chain) that may concern the municipality, it is read again inside the run's
    transaction. ``register_read``: called once that read is done (a test's signal; not called
    when there is no such read)."""
    where = options.municipality
    with exclusive_run(engine, where.lock_name) as mine:
        if not mine:
            raise SyncAlreadyRunning(
                f"En annan katalogsynk för {where.name} pågår redan; den här gjorde ingenting."
            )
        with (
            no_gc(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="katalogsynk") as side,
        ):
            # (An in-memory SQLite database cannot be read from another connection.)
            early = None if _in_memory(engine) else side.submit(_read_register, engine, where.id)
            if early is not None and register_read is not None:
                early.add_done_callback(lambda _: register_read())
            hr = export() if callable(export) else export
            # The rows' digests before the transaction begins: on SQLite it holds the write
            # lock, which another municipality's sync then waits for.
            distinct = distinct_values(hr.rows)  # for the digests and the validation both
            key = hr_digest_key(vault)
            digests = pd.Series(row_digests(hr.rows, key, distinct), index=hr.rows.index)
            with Session(engine) as session, session.begin():
                return _sync(
                    session,
                    hr,
                    (distinct, digests),
                    early,
                    side,
                    vault=vault,
                    options=options,
                    today=today,
                )


def _sync(
    session: Session,
    export: HrExport,
    digested: tuple[Mapping[str, Any], pd.Series],
    early: Future[tuple[int, pd.DataFrame]] | None,
    side: ThreadPoolExecutor,
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
) -> SyncReport:
    """The run in the session's transaction. ``digested``: the export's `distinct_values` and
    each row's digest (by line); ``early``: the register read beside the file; ``side``: a
    thread for work the run can go on without (reads on connections of its own, the XLSX)."""
    where = options.municipality.id
    units, cost_centres = _codes(session, OrgUnit, where), _codes(session, CostCentre, where)
    rows = export.rows
    distinct, digests = digested
    m = _match(rows, digests, _people(session, where, early))
    checked, the_plan, current = _planned(
        session,
        where,
        export,
        m,
        side,
        distinct,
        units=units,
        cost_centres=cost_centres,
        vault=vault,
        today=today,
    )
    stop = _brake(session, the_plan, options)
    report = _report(export, the_plan, checked, SyncStatus.DRY_RUN, options.municipality.name)
    if _held_back(session, export, report, checked, stop, options):
        return report
    report.status = SyncStatus.APPLIED
    identical = _last_applied_sha(session, where) == export.sha256
    tell = (the_plan.has_changes or the_plan.rows_quarantined) and not identical
    # The contact centre's workbook is made alongside the writes (it needs only the report):
    # the database works while Python builds the XLSX.
    workbook = side.submit(changes_workbook, report.changes, report.quarantine) if tell else None
    run = _record_run(session, export, report, options, checked)
    if stop:
        _record_override(session, run, stop, options)
    _apply(
        session,
        the_plan,
        checked.valid,
        m,
        current,
        vault=vault,
        units=units,
        cost_centres=cost_centres,
        today=today,
        options=options,
    )
    if workbook is not None:
        _notify(session, report, options, workbook.result())
    return report


def _planned(
    session: Session,
    municipality_id: int,
    export: HrExport,
    m: Matched,
    side: ThreadPoolExecutor,
    distinct: Mapping[str, Any],
    *,
    units: Mapping[str, int],
    cost_centres: Mapping[str, int],
    vault: PersonnummerVault,
    today: date,
) -> tuple[Validated, SyncPlan, pd.DataFrame]:
    """The rows validated, the plan, and the register rows it was made from (`load_current`).
    Whom the run may compare in full is read on the side while the rows are validated."""
    rows, people = m.rows, m.people
    candidates = _candidates(m)
    bind = session.get_bind()
    reading = (
        side.submit(
            _read_current, bind, municipality_id, people["employee_id"][candidates], len(people)
        )
        if isinstance(bind, Engine) and not _in_memory(bind)
        else None
    )
    checked = validate(
        rows,
        known_units=units.keys(),
        known_cost_centres=cost_centres.keys(),
        known_employee_numbers=m.register,
        today=today,
        trusted=m.maybe_unchanged,
        number_keys=m.person,
        distinct=distinct,
    )
    valid = checked.valid  # the rows to compare in full; the trusted ones match the register
    hashes = pd.Series(
        vault.lookup_hashes(Personnummer(d) for d in valid["personnummer"]),
        index=valid.index,
        dtype=object,
    )
    protected = _protected(session, municipality_id, checked, export, vault, today)
    unchanged = _unchanged_frame(rows, checked.trusted, people, m.person)
    wanted = _wanted(m, valid.index, unchanged.index, protected)
    if reading is not None and not (wanted & ~candidates).any():
        read, phones = reading.result()
        current = read[read["employee_id"].isin(people["employee_id"][wanted])]
        current = current.reset_index(drop=True)
    else:
        current, phones = _read_current(
            session, municipality_id, people["employee_id"][wanted], len(people)
        )
    the_plan = plan(
        desired_frame(valid, hashes, phones),
        current,
        quarantined_rows=len(checked.quarantined_rows),
        rows_read=len(rows),
        protected_numbers=protected,
        today=today,
        unchanged=unchanged,
    )
    return checked, the_plan, current


def _brake(session: Session, p: SyncPlan, options: SyncOptions) -> str | None:
    """Why the plan must not be applied without an override (`brake`), or None: judged on the
    municipality's own directory and its own last run."""
    where = options.municipality.id
    return brake(
        removals=len(p.leavers),
        directory_size=directory_size(session, where),
        rows_now=p.rows_read,
        rows_last=_last_rows_read(session, where),
        limits=options.limits,
    )


def _held_back(
    session: Session,
    export: HrExport,
    report: SyncReport,
    checked: Validated,
    stop: str | None,
    options: SyncOptions,
) -> bool:
    """Whether the run ends before writing: braked (and recorded, unless a dry run), or a dry
    run (the brake's reason, if any, in its message)."""
    if stop and not options.allow_mass_removal:
        report.status, report.message = SyncStatus.BRAKED, stop
        if not options.dry_run:
            _record_run(session, export, report, options, checked)
        return True
    if options.dry_run:
        report.message = stop
        return True
    return False


def _record_override(session: Session, run: SyncRun, stop: str, options: SyncOptions) -> None:
    """The brake passed with a person's say-so: their reason in the audit chain."""
    audit.record(
        session,
        actor=options.actor,
        action="directory_sync.brake_overridden",
        object_type="sync_run",
        object_id=str(run.id),
        reason=f"{options.override_reason} — {stop}",
        rule="§3.1",
        flow_run_id=options.flow_run_id,
        municipality_id=options.municipality.id,
    )
