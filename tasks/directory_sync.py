"""The directory sync's I/O: read the register, apply a plan in one transaction, report it.

`sync_directory` is the whole run as a plain function (the CLI and the flow both call it);
the Prefect tasks below wrap its two fallible steps with retries.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from models import audit
from models.audit import Actor, AuditRecord
from models.base import utcnow
from models.directory_sync import (
    DIRECTORY_FIELDS,
    EMPLOYEE_FIELDS,
    FIELD_LABELS,
    BrakeLimits,
    HrQuarantine,
    SyncPlan,
    SyncRun,
    SyncStatus,
    as_text,
    brake,
    desired_frame,
    plan,
)
from models.hr_export import HrExport, HrFileIncomplete, Validated, read_hr_export, validate
from models.outbox import Attachment, Sender, enqueue
from models.personnummer import Personnummer, PersonnummerVault, validate_personnummer_series
from models.register import (
    CostCentre,
    DirectoryEntry,
    Employee,
    OrgUnit,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from models.sync_report import XLSX_TYPE, changes_workbook, summary_context
from telefoni.locks import exclusive_run

log = logging.getLogger(__name__)
LOCK_NAME = "directory-sync"


class SyncAlreadyRunning(RuntimeError):
    """Another directory sync holds the lock; this one did nothing."""


class SyncBraked(RuntimeError):
    """The plan would remove too much; nothing was written."""


@dataclass
class SyncReport:
    """What a run did, for the CLI, the artifacts and the tests."""

    file_name: str
    status: SyncStatus
    rows_read: int
    rows_applied: int
    rows_unchanged: int
    rows_quarantined: int
    joiners: int
    changed: int
    leavers: int
    message: str | None = None
    sync_run_id: int | None = None
    extra_columns: tuple[str, ...] = ()
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)  # for the artifact table
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class SyncOptions:
    dry_run: bool = False
    allow_mass_removal: bool = False
    override_reason: str | None = None
    limits: BrakeLimits = field(default_factory=BrakeLimits)
    contact_centre_email: str = "kontaktcenter@example.invalid"
    sender: Sender = field(default_factory=lambda: Sender("telefoni@example.invalid"))
    municipality: str = ""
    actor: Actor = field(default_factory=lambda: Actor.system("directory-sync"))
    flow_run_id: str | None = None


# --- reading the register ---------------------------------------------------------------------


def load_current(session: Session) -> pd.DataFrame:
    """Every employee with HR's fields and their directory entry, as comparable text."""
    manager = aliased(Employee)
    unit, cost_centre = aliased(OrgUnit), aliased(CostCentre)
    dir_unit, dir_cc = aliased(OrgUnit), aliased(CostCentre)
    e, d = Employee, DirectoryEntry
    stmt = (
        select(
            e.id.label("employee_id"),
            e.employee_number,
            e.left_at,
            e.first_name,
            e.last_name,
            e.personnummer_hash,
            e.email,
            e.title,
            e.user_id,
            unit.code.label("unit_code"),
            cost_centre.code.label("cost_centre_code"),
            e.visiting_address,
            manager.employee_number.label("manager_number"),
            e.employment_start,
            e.employment_end,
            e.need_category,
            e.keywords,
            d.id.label("entry_id"),
            d.name.label("dir_name"),
            d.phone_number.label("dir_phone_number"),
            d.email.label("dir_email"),
            d.title.label("dir_title"),
            d.personnummer_hash.label("dir_personnummer_hash"),
            d.user_id.label("dir_user_id"),
            dir_unit.code.label("dir_unit_code"),
            dir_cc.code.label("dir_cost_centre_code"),
            d.visiting_address.label("dir_visiting_address"),
            d.keywords.label("dir_keywords"),
        )
        .join(unit, e.unit_id == unit.id)
        .join(cost_centre, e.cost_centre_id == cost_centre.id)
        .outerjoin(manager, e.manager_id == manager.id)
        .outerjoin(d, d.employee_id == e.id)
        .outerjoin(dir_unit, d.unit_id == dir_unit.id)
        .outerjoin(dir_cc, d.cost_centre_id == dir_cc.id)
    )
    result = session.execute(stmt)
    # Plain tuples: pandas takes its fast path for them (for Row objects it first probes every
    # row for a dtype attribute, then copies each into a tuple anyway).
    frame = pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))
    current = pd.DataFrame(
        {
            "employee_id": frame["employee_id"].astype("int64"),
            "employee_number": frame["employee_number"].astype(object),
            "left": frame["left_at"].notna(),
            "has_entry": frame["entry_id"].notna(),
            "entry_id": frame["entry_id"],
        }
    )
    for name in EMPLOYEE_FIELDS:
        current[f"{name}_now"] = as_text(frame[name])
    for name in DIRECTORY_FIELDS:
        current[f"dir_{name}"] = as_text(frame[f"dir_{name}"])
    return current


def phone_numbers(session: Session) -> pd.Series:
    """employee_number → the number of their active personal subscription (lowest if several)."""
    rows = session.execute(
        select(Employee.employee_number, func.min(Subscription.number))
        .join(Subscription, Subscription.owner_id == Employee.id)
        .where(
            Subscription.kind == SubscriptionKind.PERSONAL,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
        .group_by(Employee.employee_number)
    ).all()
    return pd.Series({number: phone for number, phone in rows}, dtype=object)


def _codes(session: Session, model: type[OrgUnit] | type[CostCentre]) -> dict[str, int]:
    return {code: id_ for id_, code in session.execute(select(model.id, model.code))}


def _last_rows_read(session: Session) -> int | None:
    return session.scalar(
        select(SyncRun.rows_read)
        .where(SyncRun.status == SyncStatus.APPLIED)
        .order_by(SyncRun.id.desc())
        .limit(1)
    )


def _last_applied_sha(session: Session) -> str | None:
    return session.scalar(
        select(SyncRun.file_sha256)
        .where(SyncRun.status == SyncStatus.APPLIED)
        .order_by(SyncRun.id.desc())
        .limit(1)
    )


# --- the run ----------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sync_directory(
    engine: Engine,
    export: HrExport,
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
) -> SyncReport:
    """Validate, plan, brake and apply one HR export; one run at a time, whoever starts it."""
    with exclusive_run(engine, LOCK_NAME) as mine:
        if not mine:
            raise SyncAlreadyRunning("En annan katalogsynk pågår redan; den här gjorde ingenting.")
        with Session(engine) as session, session.begin():
            return _sync(session, export, vault=vault, options=options, today=today)


def _sync(
    session: Session,
    export: HrExport,
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
) -> SyncReport:
    units, cost_centres = _codes(session, OrgUnit), _codes(session, CostCentre)
    current = load_current(session)
    checked = validate(
        export.rows,
        known_units=units.keys(),
        known_cost_centres=cost_centres.keys(),
        known_employee_numbers=set(current["employee_number"]),
        today=today,
    )
    valid = checked.valid
    hashes = pd.Series(
        vault.lookup_hashes(Personnummer(d) for d in valid["personnummer"]),
        index=valid.index,
        dtype=object,
    )
    desired = desired_frame(valid, hashes, phone_numbers(session))
    the_plan = plan(
        desired,
        current,
        quarantined_rows=len(checked.quarantined_rows),
        rows_read=len(export.rows),
        protected_numbers=_protected(checked, export, current, vault, today),
        today=today,
    )
    directory_size = int(current["has_entry"].sum())
    stop = brake(
        removals=len(the_plan.leavers),
        directory_size=directory_size,
        rows_now=len(export.rows),
        rows_last=_last_rows_read(session),
        limits=options.limits,
    )
    report = _report(export, the_plan, checked, SyncStatus.DRY_RUN)
    if stop and not options.allow_mass_removal:
        report.status, report.message = SyncStatus.BRAKED, stop
        if not options.dry_run:
            _record_run(session, export, report, options, checked)
        return report
    if options.dry_run:
        report.message = stop
        return report
    report.status = SyncStatus.APPLIED
    identical = _last_applied_sha(session) == file_sha256(export.path)
    run = _record_run(session, export, report, options, checked)
    if stop:
        audit.record(
            session,
            actor=options.actor,
            action="directory_sync.brake_overridden",
            object_type="sync_run",
            object_id=str(run.id),
            reason=f"{options.override_reason} — {stop}",
            rule="§3.1",
            flow_run_id=options.flow_run_id,
        )
    _apply(
        session,
        the_plan,
        valid,
        vault=vault,
        units=units,
        cost_centres=cost_centres,
        today=today,
        options=options,
    )
    if (the_plan.has_changes or the_plan.rows_quarantined) and not identical:
        _notify(session, report, options)
    return report


def _protected(
    checked: Validated,
    export: HrExport,
    current: pd.DataFrame,
    vault: PersonnummerVault,
    today: date,
) -> set[str]:
    """People whose row was quarantined: by employee number, or by a readable personnummer."""
    bad_rows = export.rows.loc[sorted(checked.quarantined_rows)]
    numbers = {n for n in bad_rows["anstallningsnummer"] if n}
    digits, _ = validate_personnummer_series(bad_rows["personnummer"], today=today)
    readable = digits.dropna()
    if len(readable):
        hashes = set(vault.lookup_hashes(Personnummer(d) for d in readable))
        numbers |= set(
            current.loc[current["personnummer_hash_now"].isin(hashes), "employee_number"]
        )
    return numbers


def _report(export: HrExport, p: SyncPlan, checked: Validated, status: SyncStatus) -> SyncReport:
    return SyncReport(
        file_name=export.path.name,
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
        file_name=str(export.path),
        file_sha256=file_sha256(export.path),
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


# --- applying ---------------------------------------------------------------------------------


def _none(value: Any) -> Any:
    return None if value is None or value is pd.NA or value == "" or value != value else value


def _date(value: Any) -> date | None:
    if value is None or pd.isna(value):
        return None
    day: date = pd.Timestamp(value).date()
    return day


def _employee_values(row: Any, units: Mapping[str, int], ccs: Mapping[str, int]) -> dict[str, Any]:
    return {
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": _none(row.email),
        "title": _none(row.title),
        "user_id": _none(row.user_id),
        "unit_id": units[row.unit_code],
        "cost_centre_id": ccs[row.cost_centre_code],
        "visiting_address": _none(row.visiting_address),
        "keywords": _none(row.keywords),
        "employment_start": _date(row.employment_start),
        "employment_end": _date(row.employment_end),
        "need_category": None if pd.isna(row.need_category) else int(row.need_category),
        "left_at": None,
    }


def _apply(
    session: Session,
    p: SyncPlan,
    valid: pd.DataFrame,
    *,
    vault: PersonnummerVault,
    units: Mapping[str, int],
    cost_centres: Mapping[str, int],
    today: date,
    options: SyncOptions,
) -> None:
    """Write the plan with bulk statements; audit one event per person changed."""
    rows = valid.loc[p.joiners.index]
    back = p.joiners.index[
        p.joiners["employee_number"].isin(
            set(
                session.scalars(
                    select(Employee.employee_number).where(Employee.left_at.is_not(None))
                )
            )
        )
    ]
    new_rows = rows.drop(index=back)
    pnrs = [Personnummer(d) for d in new_rows["personnummer"]]
    if len(new_rows):
        session.execute(
            insert(Employee),
            [
                {
                    "employee_number": r.employee_number,
                    "personnummer_encrypted": token,
                    "personnummer_hash": digest,
                    "is_samordningsnummer": bool(r.samordning),
                    **_employee_values(r, units, cost_centres),
                }
                for r, token, digest in zip(
                    new_rows.itertuples(),
                    vault.encrypt_many(pnrs),
                    vault.lookup_hashes(pnrs),
                    strict=True,
                )
            ],
        )
    id_of: dict[str, int] = {
        number: id_
        for number, id_ in session.execute(select(Employee.employee_number, Employee.id))
    }

    # Changed people and people back: every HR field written from the export row.
    rewrite = pd.concat([valid.loc[p.changed.index], valid.loc[back]])
    pnr_changed = set(p.changes.loc[p.changes["field"] == "personnummer_hash", "employee_number"])
    if len(rewrite):
        updates = []
        for r in rewrite.itertuples():
            values = {"id": id_of[r.employee_number], **_employee_values(r, units, cost_centres)}
            if r.employee_number in pnr_changed or r.Index in back:
                pnr = Personnummer(r.personnummer)
                values |= {
                    "personnummer_encrypted": vault.encrypt(pnr),
                    "personnummer_hash": vault.lookup_hash(pnr),
                    "is_samordningsnummer": pnr.is_samordningsnummer,
                }
            updates.append(values)
        session.execute(update(Employee), updates)

    # Managers: wherever HR's manager differs from the register's (joiners included).
    wanted = valid.loc[
        pd.concat([p.joiners, p.changed]).index, ["employee_number", "manager_number"]
    ]
    if len(wanted):
        session.execute(
            update(Employee),
            [
                {
                    "id": id_of[r.employee_number],
                    "manager_id": id_of.get(r.manager_number) if r.manager_number else None,
                }
                for r in wanted.itertuples()
            ],
        )

    # Leavers: out of the directory, marked as left.
    leaver_ids = [int(i) for i in p.leavers["employee_id"]]
    if leaver_ids:
        session.execute(update(Employee), [{"id": i, "left_at": today} for i in leaver_ids])
        session.execute(delete(DirectoryEntry).where(DirectoryEntry.employee_id.in_(leaver_ids)))

    _write_directory(
        session, p, valid, id_of=id_of, units=units, cost_centres=cost_centres, vault=vault
    )
    _audit(session, p, options)


def _write_directory(
    session: Session,
    p: SyncPlan,
    valid: pd.DataFrame,
    *,
    id_of: Mapping[str, int],
    units: Mapping[str, int],
    cost_centres: Mapping[str, int],
    vault: PersonnummerVault,
) -> None:
    """Create and update personal entries with exactly the §3.1 fields."""

    def entry(row: Any) -> dict[str, Any]:
        return {
            "employee_id": id_of[row.employee_number],
            "name": row.name,
            "phone_number": _none(row.phone_number),
            "email": _none(row.email),
            "title": _none(row.title),
            "personnummer_hash": row.personnummer_hash,
            "user_id": _none(row.user_id),
            "unit_id": units[row.unit_code],
            "cost_centre_id": cost_centres[row.cost_centre_code],
            "visiting_address": _none(row.visiting_address),
            "keywords": _none(row.keywords),
        }

    to_create = pd.concat([p.joiners, p.directory_missing])
    to_update = p.changed[p.changed["has_entry"].astype(bool)]
    creates = [entry(r) | {"kind": SubscriptionKind.PERSONAL} for r in to_create.itertuples()]
    updates = [entry(r) | {"id": int(r.entry_id)} for r in to_update.itertuples()]
    for rows, frame in ((creates, to_create), (updates, to_update)):
        pnrs = [Personnummer(d) for d in valid.loc[frame.index, "personnummer"]]
        for row, token in zip(rows, vault.encrypt_many(pnrs), strict=True):
            row["personnummer_encrypted"] = token
    if creates:
        session.execute(insert(DirectoryEntry), creates)
    if updates:
        session.execute(update(DirectoryEntry), updates)


def _audit(session: Session, p: SyncPlan, options: SyncOptions) -> None:
    """One event per person whose directory entry was created, changed or removed (§3.1)."""

    def event(action: str, number: str, reason: str, **values: Any) -> AuditRecord:
        return AuditRecord(
            actor=options.actor,
            action=action,
            object_type="employee",
            object_id=str(number),
            reason=reason,
            rule="§3.1",
            flow_run_id=options.flow_run_id,
            **values,
        )

    records = [
        event(
            "directory.created",
            r.employee_number,
            "ny i HR-exporten",
            after={FIELD_LABELS.get(f, f): getattr(r, f) for f in DIRECTORY_FIELDS},
        )
        for r in p.joiners.itertuples()
    ]
    records += [
        event("directory.updated", str(number), "ändrad i HR-exporten", before=b, after=a)
        for number, b, a in _per_person(p.changes)
    ]
    records += [
        event("directory.created", r.employee_number, "saknades i kunddatabasen")
        for r in p.directory_missing.itertuples()
    ]
    records += [
        event("directory.removed", r.employee_number, r.reason, before={"namn": r.name})
        for r in p.leavers.itertuples()
    ]
    audit.record_many(session, records)


def _per_person(changes: pd.DataFrame) -> Iterator[tuple[Any, dict[str, Any], dict[str, Any]]]:
    """(employee_number, before, after) per person, labelled: what
    `changes.groupby("employee_number", sort=True)` gives, without a frame per group."""
    codes, numbers = pd.factorize(changes["employee_number"], sort=True)  # as groupby does
    labels = [FIELD_LABELS.get(f, f) for f in changes["field"].tolist()]
    before, after = changes["before"].tolist(), changes["after"].tolist()
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]  # groupby leaves missing keys out
    for code, rows in itertools.groupby(order.tolist(), key=codes.__getitem__):
        at = list(rows)
        yield (
            numbers[code],
            {labels[i]: before[i] for i in at},
            {labels[i]: after[i] for i in at},
        )


def _notify(session: Session, report: SyncReport, options: SyncOptions) -> None:
    enqueue(
        session,
        template="katalogsynk",
        business_key=f"sync-run-{report.sync_run_id}",
        recipient=options.contact_centre_email,
        sender=options.sender,
        context=summary_context(report, municipality=options.municipality),
        attachments=[
            Attachment(
                filename=f"kunddatabas-andringar-{report.sync_run_id}.xlsx",
                content_type=XLSX_TYPE,
                content=changes_workbook(report.changes, report.quarantine),
            )
        ],
    )


# --- Prefect tasks ----------------------------------------------------------------------------


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
        return read_hr_export(Path(path), column_map=column_map)
    except FileNotFoundError:
        raise HrFileMissing(f"HR-exporten finns inte: {path}") from None
    except PermissionError:
        raise PermissionError(f"HR-exporten går inte att läsa (behörighet): {path}") from None
