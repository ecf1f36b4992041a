"""Writing the plan: bulk statements in the run's transaction, one audit event per person.

Every row inserted, and every audit event, carries the run's municipality; rows are updated by
id, and every id comes from a read of that municipality's rows."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from models import audit
from models.audit import AuditRecord
from models.base import Base
from models.directory_sync import DIRECTORY_FIELDS, EMPLOYEE_FIELDS, FIELD_LABELS, SyncPlan
from models.personnummer import Personnummer, PersonnummerVault
from models.register import DirectoryEntry, Employee, SubscriptionKind
from tasks.directory_sync.matching import Matched
from tasks.directory_sync.options import SyncOptions
from tasks.directory_sync.sql import _chunks
from tasks.offboarding.recorded import record_starts


def _none(value: Any) -> Any:
    """The value as written: None for an empty one (None, NA, "" or NaN)."""
    return None if value is None or value is pd.NA or value == "" or value != value else value


def _date(value: Any) -> date | None:
    """A day as written, or None."""
    if value is None or pd.isna(value):
        return None
    day: date = pd.Timestamp(value).date()
    return day


def _employee_values(row: Any, units: Mapping[str, int], ccs: Mapping[str, int]) -> dict[str, Any]:
    """The HR fields of an employee row as written, from a valid export row (not the manager)."""
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
    m: Matched,
    current: pd.DataFrame,
    *,
    vault: PersonnummerVault,
    units: Mapping[str, int],
    cost_centres: Mapping[str, int],
    today: date,
    options: SyncOptions,
) -> int:
    """Write the plan with bulk statements; audit one event per person changed; record the
    offboardings it starts (`_start_offboardings`), how many returned. ``m``: the
    export's rows beside the municipality's register; ``current``: the register rows the plan
    compared. ``units``, ``cost_centres``: the municipality's, code → id.

    Every employee row written from an export row gets that row's digest; so does every other
    row of `valid` whose person's stored digest differs (the row was compared in full and
    matched: next time it need not be)."""
    digest_of = dict(zip(valid.index.tolist(), m.digests.loc[valid.index].tolist(), strict=True))
    left_numbers = set(current.loc[current["left"], "employee_number"])
    back = p.joiners.index[p.joiners["employee_number"].isin(left_numbers)]
    new_rows = valid.loc[p.joiners.index].drop(index=back)
    where = options.municipality.id
    _insert_employees(
        session,
        new_rows,
        digest_of,
        municipality_id=where,
        vault=vault,
        units=units,
        cost_centres=cost_centres,
    )
    id_of = _ids_of_written(session, where, valid, new_rows, m)
    rewrite = pd.concat([valid.loc[p.changed.index], valid.loc[back]])
    _rewrite_employees(
        session, p, rewrite, id_of, digest_of, vault=vault, units=units, cost_centres=cost_centres
    )
    # Rows that matched in full but under another (or no) digest: store theirs.
    person = pd.Series(m.person, index=m.rows.index)
    _store_digests(session, valid, p, rewrite.index, m.digests, m.people, person)
    _set_managers(session, p, valid, id_of)
    _remove_leavers(session, p, today)
    _write_directory(
        session,
        p,
        valid,
        municipality_id=where,
        id_of=id_of,
        units=units,
        cost_centres=cost_centres,
        vault=vault,
    )
    _audit(session, p, options)
    return _start_offboardings(session, p, today, options)


def _start_offboardings(session: Session, p: SyncPlan, today: date, options: SyncOptions) -> int:
    """The offboardings the sync starts (§8.1), recorded in its transaction: for employments
    ending within the municipality's window, and for the leavers removed now. Their runs are
    made after the commit, from the records (`tasks.offboarding.started`)."""
    return len(
        record_starts(
            session,
            municipality_id=options.municipality.id,
            window_days=options.offboarding_window_days,
            today=today,
            removed=[int(i) for i in p.leavers["employee_id"]],
            actor=options.actor,
            flow_run_id=options.flow_run_id,
        )
    )


def _insert_employees(
    session: Session,
    new_rows: pd.DataFrame,
    digest_of: Mapping[int, int],
    *,
    municipality_id: int,
    vault: PersonnummerVault,
    units: Mapping[str, int],
    cost_centres: Mapping[str, int],
) -> None:
    """An employee row of the municipality for each joiner new to its register, with their
    row's digest."""
    pnrs = [Personnummer(d) for d in new_rows["personnummer"]]
    if len(new_rows):
        session.execute(
            insert(Employee),
            [
                {
                    "municipality_id": municipality_id,
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


def _ids_of_written(
    session: Session, municipality_id: int, valid: pd.DataFrame, new_rows: pd.DataFrame, m: Matched
) -> dict[str, int]:
    """Employee ids of the numbers this run writes (people and their managers), through the
    register's index (not a dict of everyone); those just inserted from the database. A
    manager's number is one of the same municipality's people: another's who happens to have
    that number is someone else."""
    written = pd.unique(
        np.concatenate(
            [
                valid["employee_number"].to_numpy(dtype=object),
                valid["manager_number"].dropna().to_numpy(dtype=object),
            ]
        )
    )
    at = m.register.get_indexer(written)
    ids = m.people["employee_id"].to_numpy()
    id_of: dict[str, int] = {n: int(ids[a]) for n, a in zip(written, at, strict=True) if a >= 0}
    for numbers in _chunks(new_rows["employee_number"].tolist()):
        id_of.update(
            session.execute(
                select(Employee.employee_number, Employee.id).where(
                    Employee.municipality_id == municipality_id,
                    Employee.employee_number.in_(numbers),
                )
            ).all()
        )
    return id_of


def _rewrite_employees(
    session: Session,
    p: SyncPlan,
    rewrite: pd.DataFrame,
    id_of: Mapping[str, int],
    digest_of: Mapping[int, int],
    *,
    vault: PersonnummerVault,
    units: Mapping[str, int],
    cost_centres: Mapping[str, int],
) -> None:
    """People back: every HR field written from the export row. Changed people: the fields
    that differ (the manager apart), each with its row's digest."""
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


def _set_managers(
    session: Session, p: SyncPlan, valid: pd.DataFrame, id_of: Mapping[str, int]
) -> None:
    """Managers: joiners', and wherever HR's manager differs from the register's."""
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


def _remove_leavers(session: Session, p: SyncPlan, today: date) -> None:
    """Leavers: out of the directory, marked as left."""
    leaver_ids = [int(i) for i in p.leavers["employee_id"]]
    if leaver_ids:
        _update_by_id(session, Employee, [{"id": i, "left_at": today} for i in leaver_ids])
        for ids in _chunks(leaver_ids):
            session.execute(delete(DirectoryEntry).where(DirectoryEntry.employee_id.in_(ids)))


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
    municipality_id: int,
    id_of: Mapping[str, int],
    units: Mapping[str, int],
    cost_centres: Mapping[str, int],
    vault: PersonnummerVault,
) -> None:
    """Create (in the municipality's directory) and update personal entries with exactly the
    §3.1 fields."""

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
    creates = [
        entry(r) | {"kind": SubscriptionKind.PERSONAL, "municipality_id": municipality_id}
        for r in to_create.itertuples()
    ]
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
    """One event per person whose directory entry was created, changed or removed (§3.1), each
    with the municipality (an employee number alone names nobody)."""

    def event(action: str, number: str, reason: str, **values: Any) -> AuditRecord:
        return AuditRecord(
            actor=options.actor,
            action=action,
            object_type="employee",
            object_id=str(number),
            reason=reason,
            rule="§3.1",
            flow_run_id=options.flow_run_id,
            municipality_id=options.municipality.id,
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
