"""The whole run: one at a time per municipality, the register read beside the file, the plan
made before the transaction that writes it. A run is of one municipality: it reads that one's
export, people, units and runs, and everything it writes carries that one's id."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import audit
from models.directory_sync import SyncPlan, brake, desired_frame, hr_digest_key, plan
from models.hr_export import HrExport, Validated, distinct_values, no_gc, row_digests, validate
from models.personnummer import Personnummer, PersonnummerVault
from models.register import CostCentre, OrgUnit
from models.sync_report import changes_workbook
from models.sync_run import SyncRun, SyncStatus
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
    _read_current,
    _read_register,
    _written_since,
    directory_size,
    load_people,
)
from tasks.directory_sync.report import SyncReport, _notify, _record_run, _report
from tasks.directory_sync.sql import _in_memory
from telefoni.core.db import get_engine
from telefoni.core.locks import exclusive_run
from telefoni.core.settings import Settings
from telefoni.core.vault import vault_from

log = logging.getLogger(__name__)


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
    of its own: the database works while Python parses the file (and hashes its rows). The plan
    is made before the run's transaction begins; if anything that may concern the municipality
    was written to the register after that read began (every change appends to the audit
    chain), it is read and planned again inside the transaction. ``register_read``: called once
    that read is done (a test's signal; not called when there is no such read)."""
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
            # The rows' digests, once: a plan made again reuses them.
            distinct = distinct_values(hr.rows)  # for the digests and the validation both
            key = hr_digest_key(vault)
            digests = pd.Series(row_digests(hr.rows, key, distinct), index=hr.rows.index)
            return _sync(
                engine,
                hr,
                (distinct, digests),
                early,
                side,
                vault=vault,
                options=options,
                today=today,
            )


@dataclass(frozen=True)
class _Planned:
    """What the run will write, and what it was made from."""

    m: Matched
    checked: Validated
    plan: SyncPlan
    current: pd.DataFrame  # the register rows the plan compared (`load_current`)
    units: Mapping[str, int]
    cost_centres: Mapping[str, int]
    stop: str | None  # why the brake holds it back (`brake`), or None
    identical: bool  # the export is the one the last applied run read


def _sync(
    engine: Engine,
    export: HrExport,
    digested: tuple[Mapping[str, Any], pd.Series],
    early: Future[tuple[int, pd.DataFrame]] | None,
    side: ThreadPoolExecutor,
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
) -> SyncReport:
    """Plan on the register as read, then write in one transaction. ``digested``: the export's
    `distinct_values` and each row's digest (by line); ``early``: the register read beside the
    file; ``side``: a thread for work the run can go on without (reads on connections of their
    own, the XLSX).

    The plan is made outside the transaction (on SQLite the transaction holds the one write
    lock, which the syncs of the other municipalities would wait for meanwhile). If anything
    that may concern the municipality was written after the early read began (every change
    appends to the audit chain), the plan is made again inside the transaction."""
    where = options.municipality.id

    def planned(source: Session | Engine, people: pd.DataFrame) -> _Planned:
        return _plan(
            source, export, digested, people, side, vault=vault, options=options, today=today
        )

    def written(session: Session, ready: _Planned, book: Future[bytes] | None) -> SyncReport:
        return _write(session, export, ready, book, vault=vault, options=options, today=today)

    if early is None:  # an in-memory database: one connection, all in its transaction
        with Session(engine) as session, session.begin():
            ready = planned(session, load_people(session, where))
            return written(session, ready, _workbook(export, ready, side, options))
    seq, people = early.result()
    ready = planned(engine, people)
    # The contact centre's workbook is made before the transaction begins: on SQLite the other
    # municipalities' syncs wait for its write lock meanwhile.
    book = _workbook(export, ready, side, options)
    with Session(engine) as session, session.begin():
        if _written_since(session, where, seq):
            log.info("Registret ändrades medan HR-exporten lästes och jämfördes; läser det igen.")
            ready = planned(session, load_people(session, where))
            book = _workbook(export, ready, side, options)
        return written(session, ready, book)


def _workbook(
    export: HrExport, ready: _Planned, side: ThreadPoolExecutor, options: SyncOptions
) -> Future[bytes] | None:
    """The contact centre's XLSX of the plan, made on the side thread; None when the contact
    centre is not told (nothing changed, the same file again, braked or a dry run)."""
    the_plan = ready.plan
    held = (ready.stop and not options.allow_mass_removal) or options.dry_run
    if held or ready.identical or not (the_plan.has_changes or the_plan.rows_quarantined):
        return None
    report = _report(export, the_plan, ready.checked, SyncStatus.APPLIED, "")
    return side.submit(changes_workbook, report.changes, report.quarantine, options.hr_columns)


def _plan(
    source: Session | Engine,
    export: HrExport,
    digested: tuple[Mapping[str, Any], pd.Series],
    people: pd.DataFrame,
    side: ThreadPoolExecutor,
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
) -> _Planned:
    """The plan from the register as ``source`` reads it (in the session's transaction, or
    from the engine's connections); ``people``: the municipality's (`load_people`)."""
    where = options.municipality.id
    units, cost_centres = _codes(source, OrgUnit, where), _codes(source, CostCentre, where)
    distinct, digests = digested
    m = _match(export.rows, digests, people)
    checked, the_plan, current = _planned(
        source,
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
    return _Planned(
        m,
        checked,
        the_plan,
        current,
        units,
        cost_centres,
        stop=_brake(source, the_plan, options),
        identical=_last_applied_sha(source, where) == export.sha256,
    )


def _write(
    session: Session,
    export: HrExport,
    ready: _Planned,
    workbook: Future[bytes] | None,
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
) -> SyncReport:
    """The plan written (unless braked or a dry run), in the session's transaction;
    ``workbook``: the contact centre's XLSX (`_workbook`), if it is told."""
    the_plan, checked, stop = ready.plan, ready.checked, ready.stop
    report = _report(export, the_plan, checked, SyncStatus.DRY_RUN, options.municipality.name)
    if _held_back(session, export, report, checked, stop, options):
        return report
    report.status = SyncStatus.APPLIED
    run = _record_run(session, export, report, options, checked)
    if stop:
        _record_override(session, run, stop, options)
    report.offboardings_started = _apply(
        session,
        the_plan,
        checked.valid,
        ready.m,
        ready.current,
        vault=vault,
        units=ready.units,
        cost_centres=ready.cost_centres,
        today=today,
        options=options,
    )
    if workbook is not None:
        _notify(session, report, options, workbook.result())
    return report


def _planned(
    source: Session | Engine,
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
    bind = source if isinstance(source, Engine) else source.get_bind()
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
    protected = _protected(source, municipality_id, checked, export, vault, today)
    unchanged = _unchanged_frame(rows, checked.trusted, people, m.person)
    wanted = _wanted(m, valid.index, unchanged.index, protected)
    if reading is not None and not (wanted & ~candidates).any():
        read, phones = reading.result()
        current = read[read["employee_id"].isin(people["employee_id"][wanted])]
        current = current.reset_index(drop=True)
    else:
        current, phones = _read_current(
            source, municipality_id, people["employee_id"][wanted], len(people)
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


def _brake(source: Session | Engine, p: SyncPlan, options: SyncOptions) -> str | None:
    """Why the plan must not be applied without an override (`brake`), or None: judged on the
    municipality's own directory and its own last run."""
    where = options.municipality.id
    return brake(
        removals=len(p.leavers),
        directory_size=directory_size(source, where),
        rows_now=p.rows_read,
        rows_last=_last_rows_read(source, where),
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


def run_sync(
    export: HrExport | Callable[[], HrExport],
    settings: Settings,
    options: SyncOptions,
    *,
    today: datetime | None = None,
) -> SyncReport:
    """The sync itself, outside Prefect too (the CLI uses it). ``export``: the export, or how
    to read it (then the register is read meanwhile)."""
    now = today or datetime.now(settings.tz)
    return sync_directory(
        get_engine(settings.database_url),
        export,
        vault=vault_from(settings),
        options=options,
        today=now.date(),
    )
