"""The directory sync's I/O: read the register, apply a plan in one transaction, report it.

`sync_directory` is the whole run as a plain function (the CLI and the flow both call it);
the Prefect tasks below wrap its two fallible steps with retries.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Engine,
    Select,
    String,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, aliased

from models import audit
from models.audit import Actor, AuditHead, AuditRecord
from models.base import Base, utcnow
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
    hr_digest_key,
    plan,
)
from models.hr_export import (
    HrExport,
    HrFileIncomplete,
    Validated,
    distinct_values,
    no_gc,
    read_hr_export,
    row_digests,
    validate,
)
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
from telefoni.core.locks import exclusive_run

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


# Ids per IN (...) list: well below every engine's limit on bound parameters.
_IDS_PER_QUERY = 5000


# Ids written into the SQL (`_driver_rows`) per IN (...) list: no bound parameters to count,
# and each list can cost the database a scan of a table, so few and long.
_IDS_PER_LITERAL_LIST = 100_000


def _chunks(values: Sequence[Any], size: int = _IDS_PER_QUERY) -> Iterator[Sequence[Any]]:
    for lo in range(0, len(values), size):
        yield values[lo : lo + size]


def _driver_rows(source: Session | Engine, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    """A big read straight from the driver: plain tuples, no Row objects (a third of the time
    on 100,000 rows). In the session's transaction, or on a connection of the engine's own.
    Only for statements whose literals come from this code (they are rendered into the SQL).
    """
    if isinstance(source, Session):
        connection = source.connection()
        return _fetch(connection.connection.driver_connection, connection.dialect, stmt)
    raw = source.raw_connection()
    try:
        return _fetch(raw.driver_connection, source.dialect, stmt)
    finally:
        raw.close()  # back to the pool, which ends its read transaction


def _fetch(dbapi: Any, dialect: Dialect, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    finally:
        cursor.close()
    return rows


def load_people(source: Session | Engine) -> pd.DataFrame:
    """Every employee, with what the sync needs to know of all of them: employee_id,
    employee_number, left (bool), hr_digest (int64) and has_digest (bool), and in_sync (bool):
    they have a directory entry and it holds exactly what the employee row and their active
    personal subscription say (the §3.1 fields, compared as text as `plan` does; the database
    compares, one pass over employees, entries and subscriptions).
    """
    e, d = Employee, DirectoryEntry
    phone = (
        select(Subscription.owner_id, func.min(Subscription.number).label("number"))
        .where(
            Subscription.kind == SubscriptionKind.PERSONAL,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
        .group_by(Subscription.owner_id)
        .subquery()
    )

    def same(a: Any, b: Any) -> ColumnElement[bool]:
        return func.coalesce(a, "") == func.coalesce(b, "")

    in_sync = and_(
        same(d.name, e.first_name + " " + e.last_name),
        same(d.email, e.email),
        same(d.title, e.title),
        same(d.personnummer_hash, e.personnummer_hash),
        same(d.user_id, e.user_id),
        d.unit_id == e.unit_id,
        d.cost_centre_id == e.cost_centre_id,
        same(d.visiting_address, e.visiting_address),
        same(d.keywords, e.keywords),
        same(d.phone_number, phone.c.number),
    )
    people = (
        select(
            e.id.label("id"),
            e.employee_number.label("number"),
            (
                case((e.left_at.is_(None), 0), else_=1)
                + case((e.hr_digest.is_(None), 0), else_=2)
                + case((in_sync, 4), else_=0)  # no entry, or a NULL comparison: not in sync
            ).label("flags"),
            func.coalesce(e.hr_digest, 0).label("digest"),
        )
        .outerjoin(d, d.employee_id == e.id)
        .outerjoin(phone, phone.c.owner_id == e.id)
        .subquery()
    )
    count, numbers, lengths, text = _driver_rows(source, _packed(people, source))[0]
    table = _integers(numbers, count, 3)
    flags = table[:, 1]
    return pd.DataFrame(
        {
            "employee_id": table[:, 0],
            "employee_number": pd.Series(_cut(text, _integers(lengths, count, 1)), dtype=object),
            "left": (flags & 1).astype(bool),
            "hr_digest": table[:, 2],
            "has_digest": (flags & 2).astype(bool),
            "in_sync": (flags & 4).astype(bool),
        }
    )


def _packed(people: Subquery, source: Session | Engine) -> Select[Any]:
    """`people` as one row of text: the count, "id,flags,digest,...", "length,..." and the
    employee numbers end to end, all three lists in the same order. The database builds it in
    one step, with nothing for Python to do per row meanwhile: read beside the HR file it is
    ready when the file is (a row at a time, the two threads would take turns, row by row).

    The lists need no ORDER BY: one aggregate step feeds each row to every aggregate of the
    query in turn (SQLite and PostgreSQL alike; PostgreSQL's parallel partial aggregates are
    combined the same way), so the three lists are in the same order, whatever it is. (Each
    ORDER BY would be a sort of a million rows, out of memory on a server's default work_mem.)
    """
    c = people.c
    line = c.id.concat(",").concat(c.flags).concat(",").concat(c.digest)
    length: Any = func.length(c.number)
    bind = source.get_bind() if isinstance(source, Session) else source
    joined: Any = func.group_concat
    if bind.dialect.name == "postgresql":
        joined, length = func.string_agg, cast(length, String)
    return select(func.count(), joined(line, ","), joined(length, ","), joined(c.number, ""))


def _integers(text: str | None, count: int, width: int) -> np.ndarray:
    """A comma-separated list of count × width integers, as an int64 array of that shape."""
    values = np.fromstring(text or "", dtype=np.int64, sep=",") if count else np.zeros(0, np.int64)
    if len(values) != count * width:
        raise RuntimeError(f"registret lästes ofullständigt ({len(values)} av {count * width})")
    return values.reshape(count, width) if width > 1 else values


def _cut(text: str | None, lengths: np.ndarray) -> list[str]:
    """``text`` cut into pieces of ``lengths`` characters."""
    ends = np.cumsum(lengths).tolist()
    whole = text or ""
    return [whole[a:b] for a, b in zip([0, *ends], ends, strict=False)]


def directory_size(session: Session) -> int:
    """Employees with a directory entry (what the brake counts)."""
    count = session.scalar(
        select(func.count())
        .select_from(DirectoryEntry)
        .where(DirectoryEntry.employee_id.is_not(None))
    )
    return int(count or 0)


def load_current(
    source: Session | Engine, employee_ids: Collection[int] | None = None
) -> pd.DataFrame:
    """Employees (all, or those of ``employee_ids``) with HR's fields and their directory
    entry, as comparable text."""
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
    # Straight from the driver (dates as the database gives them: as_text makes them alike).
    records = []
    for chosen in _id_filters(e.id, employee_ids):
        records += _driver_rows(source, stmt.where(chosen))
    keys = [c.key for c in stmt.selected_columns]
    frame = pd.DataFrame(records, columns=keys)
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


def _read_current(
    source: Session | Engine, ids: pd.Series, population: int
) -> tuple[pd.DataFrame, pd.Series]:
    """`load_current` and `phone_numbers` of the employees of ``ids``, out of ``population``
    (past a third, of everyone: one scan beats many lookups)."""
    chosen = None if len(ids) > population // 3 else ids.tolist()
    return load_current(source, chosen), phone_numbers(source, chosen)


def phone_numbers(
    source: Session | Engine, employee_ids: Collection[int] | None = None
) -> pd.Series:
    """employee_number → the number of their active personal subscription (lowest if several),
    for everyone or for the employees of ``employee_ids``."""
    stmt = (
        select(Employee.employee_number, func.min(Subscription.number))
        .join(Subscription, Subscription.owner_id == Employee.id)
        .where(
            Subscription.kind == SubscriptionKind.PERSONAL,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
        .group_by(Employee.employee_number)
    )
    rows = []
    for chosen in _id_filters(Employee.id, employee_ids):
        rows += _driver_rows(source, stmt.where(chosen))
    return pd.Series({number: phone for number, phone in rows}, dtype=object)


def _id_filters(id_column: Any, ids: Collection[int] | None) -> Iterator[ColumnElement[bool]]:
    """WHERE clauses that together choose ``ids`` (everyone if None), a chunk each."""
    if ids is None:
        yield true()
        return
    for chunk in _chunks(sorted(int(i) for i in ids), _IDS_PER_LITERAL_LIST):
        yield id_column.in_(chunk)


def _codes(session: Session, model: type[OrgUnit] | type[CostCentre]) -> dict[str, int]:
    return {code: id_ for id_, code in _driver_rows(session, select(model.id, model.code))}


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


def sync_directory(
    engine: Engine,
    export: HrExport | Callable[[], HrExport],
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
) -> SyncReport:
    """Validate, plan, brake and apply one HR export; one run at a time, whoever starts it.

    ``export``: the export, or how to read it. The register is read meanwhile, on a connection
    of its own: the database works while Python parses the file (and hashes its rows). If
    anything was written to the register after that read began (every change appends to the
    audit chain), it is read again inside the run's transaction."""
    with exclusive_run(engine, LOCK_NAME) as mine:
        if not mine:
            raise SyncAlreadyRunning("En annan katalogsynk pågår redan; den här gjorde ingenting.")
        with (
            no_gc(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="katalogsynk") as side,
        ):
            # (An in-memory SQLite database cannot be read from another connection.)
            early = None if _in_memory(engine) else side.submit(_read_register, engine)
            hr = export() if callable(export) else export
            with Session(engine) as session, session.begin():
                return _sync(session, hr, early, side, vault=vault, options=options, today=today)


def _read_register(engine: Engine) -> tuple[int, pd.DataFrame]:
    """The audit chain's length, then everyone (`load_people`): a later write lengthens it."""
    (seq,) = _driver_rows(engine, _CHAIN_LENGTH)[0]
    return int(seq), load_people(engine)


def _people(session: Session, early: Future[tuple[int, pd.DataFrame]] | None) -> pd.DataFrame:
    """The register read early, if nothing has been written since; else read now."""
    if early is not None:
        seq, people = early.result()
        if session.scalar(_CHAIN_LENGTH) == seq:
            return people
        log.info("Registret ändrades medan HR-exporten lästes; läser det igen.")
    return load_people(session)


_CHAIN_LENGTH = select(AuditHead.last_seq).where(AuditHead.id == 1)


def _sync(
    session: Session,
    export: HrExport,
    early: Future[tuple[int, pd.DataFrame]] | None,
    side: ThreadPoolExecutor,
    *,
    vault: PersonnummerVault,
    options: SyncOptions,
    today: date,
) -> SyncReport:
    """The run in the session's transaction. ``early``: the register read beside the file;
    ``side``: a thread for work the run can go on without (reads on connections of its own,
    the XLSX)."""
    units, cost_centres = _codes(session, OrgUnit), _codes(session, CostCentre)
    rows = export.rows
    distinct = distinct_values(rows)  # for the digests and the validation both
    digests = pd.Series(row_digests(rows, hr_digest_key(vault), distinct), index=rows.index)
    people = _people(session, early)
    register = pd.Index(people["employee_number"].to_numpy())
    person = register.get_indexer(rows["anstallningsnummer"].to_numpy(object))
    maybe_unchanged = _unchanged_rows(rows, digests.to_numpy(), people, person)
    # Whom the run may compare in full: the people of every other row, and everyone active
    # with no row. Their register rows are read beside the validation (a few read in vain).
    candidates = _rows_of(people, person, rows, rows.index[~maybe_unchanged]) | (
        ~people["left"].to_numpy() & ~_rows_of(people, person, rows, rows.index)
    )
    bind = session.get_bind()
    reading = (
        side.submit(_read_current, bind, people["employee_id"][candidates], len(people))
        if isinstance(bind, Engine) and not _in_memory(bind)
        else None
    )
    checked = validate(
        rows,
        known_units=units.keys(),
        known_cost_centres=cost_centres.keys(),
        known_employee_numbers=register,
        today=today,
        trusted=maybe_unchanged,
        number_keys=person,
        distinct=distinct,
    )
    valid = checked.valid  # the rows to compare in full; the trusted ones match the register
    hashes = pd.Series(
        vault.lookup_hashes(Personnummer(d) for d in valid["personnummer"]),
        index=valid.index,
        dtype=object,
    )
    protected = _protected(session, checked, export, vault, today)
    unchanged = _unchanged_frame(rows, checked.trusted, people, person)
    in_valid = _rows_of(people, person, rows, valid.index)
    absent = (
        ~people["left"].to_numpy() & ~in_valid & ~_rows_of(people, person, rows, unchanged.index)
    )
    if protected and absent.any():
        numbers = people["employee_number"].to_numpy()
        absent[absent] = [number not in protected for number in numbers[absent]]
    wanted = in_valid | absent
    if reading is not None and not (wanted & ~candidates).any():
        read, phones = reading.result()
        current = read[read["employee_id"].isin(people["employee_id"][wanted])]
        current = current.reset_index(drop=True)
    else:
        current, phones = _read_current(session, people["employee_id"][wanted], len(people))
    desired = desired_frame(valid, hashes, phones)
    the_plan = plan(
        desired,
        current,
        quarantined_rows=len(checked.quarantined_rows),
        rows_read=len(rows),
        protected_numbers=protected,
        today=today,
        unchanged=unchanged,
    )
    stop = brake(
        removals=len(the_plan.leavers),
        directory_size=directory_size(session),
        rows_now=len(rows),
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
    identical = _last_applied_sha(session) == export.sha256
    tell = (the_plan.has_changes or the_plan.rows_quarantined) and not identical
    # The contact centre's workbook is made alongside the writes (it needs only the report):
    # the database works while Python builds the XLSX.
    workbook = side.submit(changes_workbook, report.changes, report.quarantine) if tell else None
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
        people=people,
        register=register,
        person=pd.Series(person, index=rows.index),
        current=current,
        digests=digests,
    )
    if workbook is not None:
        _notify(session, report, options, workbook.result())
    return report


def _in_memory(engine: Engine) -> bool:
    """An SQLite database that lives in one connection (another would not see it)."""
    database = engine.url.database or ""
    return engine.dialect.name == "sqlite" and (
        database in ("", ":memory:") or "mode=memory" in str(engine.url)
    )


def _rows_of(
    people: pd.DataFrame, person: np.ndarray, rows: pd.DataFrame, lines: pd.Index
) -> np.ndarray:
    """Per person (a bool each): whether one of the rows at ``lines`` is theirs. ``person``:
    each row's position in ``people`` (-1 if none). Positions, not a set of a million employee
    numbers."""
    at = person[rows.index.get_indexer(lines)]
    out = np.zeros(len(people), dtype=bool)
    out[at[at >= 0]] = True
    return out


def _unchanged_rows(
    rows: pd.DataFrame, digests: np.ndarray, people: pd.DataFrame, person: np.ndarray
) -> np.ndarray:
    """Rows that are, value for value, what the register last took from HR for an active
    employee whose directory entry is in line: their digest is the one stored. (Not for a
    10-digit personnummer: which century it means depends on the day.) ``person``: each row's
    position in ``people`` (-1 if none)."""
    known = np.flatnonzero(person >= 0)
    at = person[known]
    same = (
        people["has_digest"].to_numpy()[at]
        & (people["hr_digest"].to_numpy()[at] == digests[known])
        & ~people["left"].to_numpy()[at]
        & people["in_sync"].to_numpy()[at]
    )
    out = np.zeros(len(rows), dtype=bool)
    out[known[same]] = True
    if out.any():
        where = np.flatnonzero(out)
        pnr = rows["personnummer"].to_numpy(dtype=object)[where]
        out[where] = np.fromiter(map(len, pnr), dtype=np.int64, count=len(where)) >= 12
    return out


def _unchanged_frame(
    rows: pd.DataFrame, lines: pd.Index, people: pd.DataFrame, person: np.ndarray
) -> pd.DataFrame:
    """The rows at ``lines`` (trusted and valid) as `plan` takes them, indexed by line."""
    at = rows.index.get_indexer(lines)

    def column(name: str) -> np.ndarray:
        return np.asarray(rows[name].to_numpy(dtype=object)[at], dtype=object)

    return pd.DataFrame(
        {
            "employee_id": people["employee_id"].to_numpy()[person[at]],
            "employee_number": pd.Series(column("anstallningsnummer"), index=lines, dtype=object),
            "first_name": pd.Series(column("fornamn"), index=lines, dtype=object),
            "last_name": pd.Series(column("efternamn"), index=lines, dtype=object),
            "employment_end": pd.Series(column("anstallning_tom"), index=lines, dtype=object),
        },
        index=lines,
    )


def _protected(
    session: Session,
    checked: Validated,
    export: HrExport,
    vault: PersonnummerVault,
    today: date,
) -> set[str]:
    """People whose row was quarantined: by employee number, or by a readable personnummer."""
    bad_rows = export.rows.loc[sorted(checked.quarantined_rows)]
    numbers = {n for n in bad_rows["anstallningsnummer"] if n}
    digits, _ = validate_personnummer_series(bad_rows["personnummer"], today=today)
    readable = digits.dropna()
    if len(readable):
        hashes = sorted(set(vault.lookup_hashes(Personnummer(d) for d in readable)))
        for part in _chunks(hashes):
            numbers.update(
                session.scalars(
                    select(Employee.employee_number).where(Employee.personnummer_hash.in_(part))
                )
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
    people: pd.DataFrame,
    register: pd.Index,
    person: pd.Series,
    current: pd.DataFrame,
    digests: pd.Series,
) -> None:
    """Write the plan with bulk statements; audit one event per person changed. ``person``:
    each row's position in ``people`` (-1 if none), by line; ``register``: ``people``'s
    employee numbers as an index.

    Every employee row written from an export row gets that row's digest; so does every other
    row of `valid` whose person's stored digest differs (the row was compared in full and
    matched: next time it need not be)."""
    digest_of = dict(zip(valid.index.tolist(), digests.loc[valid.index].tolist(), strict=True))
    rows = valid.loc[p.joiners.index]
    left_numbers = set(current.loc[current["left"], "employee_number"])
    back = p.joiners.index[p.joiners["employee_number"].isin(left_numbers)]
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
                    "hr_digest": digest_of[r.Index],
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
    # Employee ids of the numbers this run writes (people and their managers), through the
    # register's index: not a dict of everyone.
    written = pd.unique(
        np.concatenate(
            [
                valid["employee_number"].to_numpy(dtype=object),
                valid["manager_number"].dropna().to_numpy(dtype=object),
            ]
        )
    )
    at = register.get_indexer(written)
    ids = people["employee_id"].to_numpy()
    id_of: dict[str, int] = {n: int(ids[a]) for n, a in zip(written, at, strict=True) if a >= 0}
    for numbers in _chunks(new_rows["employee_number"].tolist()):
        id_of.update(
            session.execute(
                select(Employee.employee_number, Employee.id).where(
                    Employee.employee_number.in_(numbers)
                )
            ).all()
        )

    # People back: every HR field written from the export row. Changed people: the fields that
    # differ (the manager below), each with its row's digest.
    rewrite = pd.concat([valid.loc[p.changed.index], valid.loc[back]])
    differing = dict(
        zip(p.changed.index, _differing(p.changed, EMPLOYEE_FIELDS, "{}_now"), strict=True)
    )
    if len(rewrite):
        updates = []
        for r in rewrite.itertuples():
            values = {
                "id": id_of[r.employee_number],
                **_employee_values(r, units, cost_centres),
                "hr_digest": digest_of[r.Index],
            }
            fields = differing.get(r.Index)
            if fields is not None:  # changed, not back
                keep = {"id", "hr_digest"}.union(*(_EMPLOYEE_COLUMNS[f] for f in fields))
                values = {k: v for k, v in values.items() if k in keep}
            if fields is None or "personnummer_hash" in fields:
                pnr = Personnummer(r.personnummer)
                values |= {
                    "personnummer_encrypted": vault.encrypt(pnr),
                    "personnummer_hash": vault.lookup_hash(pnr),
                    "is_samordningsnummer": pnr.is_samordningsnummer,
                }
            updates.append(values)
        _update_by_id(session, Employee, updates)

    # Rows that matched in full but under another (or no) digest: store theirs.
    _store_digests(session, valid, p, rewrite.index, digests, people, person)

    # Managers: joiners', and wherever HR's manager differs from the register's.
    manager_changed = set(p.changes.loc[p.changes["field"] == "manager_number", "employee_number"])
    joined = p.joiners.index
    moved = p.changed.index[p.changed["employee_number"].isin(manager_changed)]
    wanted = valid.loc[joined.append(moved), ["employee_number", "manager_number"]]
    if len(wanted):
        _update_by_id(
            session,
            Employee,
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
        _update_by_id(session, Employee, [{"id": i, "left_at": today} for i in leaver_ids])
        for ids in _chunks(leaver_ids):
            session.execute(delete(DirectoryEntry).where(DirectoryEntry.employee_id.in_(ids)))

    _write_directory(
        session, p, valid, id_of=id_of, units=units, cost_centres=cost_centres, vault=vault
    )
    _audit(session, p, options)


def _store_digests(
    session: Session,
    valid: pd.DataFrame,
    p: SyncPlan,
    written: pd.Index,
    digests: pd.Series,
    people: pd.DataFrame,
    person: pd.Series,
) -> None:
    """The digest of every valid row of a person staying on, where the stored one differs (and
    the row was not just written with it): joiners are inserted with theirs, leavers need none.
    ``person``: each row's position in ``people`` (-1 if none), by line."""
    rest = valid.index.difference(written).difference(p.joiners.index)
    at = person.loc[rest].to_numpy()
    leaving = people["employee_id"].isin(p.leavers["employee_id"]).to_numpy()
    staying = ~people["left"].to_numpy() & ~leaving
    keep = at >= 0
    keep[keep] = staying[at[keep]]
    rest, at = rest[keep], at[keep]
    if not len(rest):
        return
    new = digests.loc[rest].to_numpy()
    stale = ~people["has_digest"].to_numpy()[at] | (people["hr_digest"].to_numpy()[at] != new)
    if stale.any():
        _update_by_id(
            session,
            Employee,
            [
                {"id": int(i), "hr_digest": int(d)}
                for i, d in zip(
                    people["employee_id"].to_numpy()[at][stale], new[stale], strict=True
                )
            ],
        )


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
    creates = [entry(r) | {"kind": SubscriptionKind.PERSONAL} for r in to_create.itertuples()]
    pnrs = [Personnummer(d) for d in valid.loc[to_create.index, "personnummer"]]
    for row, token in zip(creates, vault.encrypt_many(pnrs), strict=True):
        row["personnummer_encrypted"] = token
    if creates:
        session.execute(insert(DirectoryEntry), creates)

    # Entries of changed people: the fields that differ from HR (and the register).
    to_update = p.changed[p.changed["has_entry"].astype(bool)]
    updates = []
    for r, fields in zip(
        to_update.itertuples(), _differing(to_update, DIRECTORY_FIELDS, "dir_{}"), strict=True
    ):
        if not fields:
            continue
        keep = {"id"}.union(*(_ENTRY_COLUMNS[f] for f in fields))
        values = {k: v for k, v in entry(r).items() if k in keep} | {"id": int(r.entry_id)}
        if "personnummer_hash" in fields:
            (token,) = vault.encrypt_many([Personnummer(valid.at[r.Index, "personnummer"])])
            values["personnummer_encrypted"] = token
        updates.append(values)
    if updates:
        _update_by_id(session, DirectoryEntry, updates)


# What is written for a compared field that differs (the manager is written apart).
_EMPLOYEE_COLUMNS: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "personnummer_hash": (),  # with its encrypted form, from the row's personnummer
    "email": ("email",),
    "title": ("title",),
    "user_id": ("user_id",),
    "unit_code": ("unit_id",),
    "cost_centre_code": ("cost_centre_id",),
    "visiting_address": ("visiting_address",),
    "manager_number": (),
    "employment_start": ("employment_start",),
    "employment_end": ("employment_end",),
    "need_category": ("need_category",),
    "keywords": ("keywords",),
}
_ENTRY_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "phone_number": ("phone_number",),
    "email": ("email",),
    "title": ("title",),
    "personnummer_hash": ("personnummer_hash",),
    "user_id": ("user_id",),
    "unit_code": ("unit_id",),
    "cost_centre_code": ("cost_centre_id",),
    "visiting_address": ("visiting_address",),
    "keywords": ("keywords",),
}


def _differing(frame: pd.DataFrame, fields: Sequence[str], stored: str) -> list[set[str]]:
    """Per row of `frame` (desired values joined with stored ones, as text), the fields whose
    stored value (column `stored.format(field)`) differs."""
    out: list[set[str]] = [set() for _ in range(len(frame))]
    for f in fields:
        differs = frame[f].to_numpy(dtype=object) != frame[stored.format(f)].to_numpy(dtype=object)
        for i in np.flatnonzero(differs).tolist():
            out[i].add(f)
    return out


def _update_by_id(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """UPDATE each row's columns WHERE id = its "id": one executemany for all rows that set
    the same columns (Core: the ORM's bulk UPDATE does the same with more work per row)."""
    table = model.__table__
    assert isinstance(table, Table)

    def columns(row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(sorted(k for k in row if k != "id"))

    for names, same in itertools.groupby(sorted(rows, key=columns), key=columns):
        session.execute(
            update(table).where(table.c.id == bindparam("row_id")),
            [{"row_id": r["id"], **{n: r[n] for n in names}} for r in same],
        )


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


def _notify(session: Session, report: SyncReport, options: SyncOptions, workbook: bytes) -> None:
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
                content=workbook,
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
