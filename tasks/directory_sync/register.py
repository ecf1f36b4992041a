"""Reading the register: everyone at once, the few the run compares in full, the last runs.

Every read is of one municipality's rows (``municipality_id``): employee numbers, unit and
cost-centre codes are only unique within one, and a run sees nothing of another's people."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from models.audit import AuditEvent, AuditHead
from models.directory_sync import DIRECTORY_FIELDS, EMPLOYEE_FIELDS, as_text
from models.register import (
    CostCentre,
    DirectoryEntry,
    Employee,
    OrgUnit,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from models.sync_run import SyncRun, SyncStatus
from tasks.directory_sync.sql import _driver_rows, _id_filters

log = logging.getLogger(__name__)


def load_people(source: Session | Engine, municipality_id: int) -> pd.DataFrame:
    """Every employee of the municipality, with what the sync needs to know of all of them:
    employee_id, employee_number, left (bool), hr_digest (int64) and has_digest (bool), and
    in_sync (bool): they have a directory entry and it holds exactly what the employee row and
    their active personal subscription say (the §3.1 fields, compared as text as `plan` does;
    the database compares, one pass over employees, entries and subscriptions).
    """
    e, d = Employee, DirectoryEntry
    phone = _personal_phones(municipality_id)
    people = (
        select(
            e.id.label("id"),
            e.employee_number.label("number"),
            (
                case((e.left_at.is_(None), 0), else_=1)
                + case((e.hr_digest.is_(None), 0), else_=2)
                + case((_in_sync(phone), 4), else_=0)  # no entry, or a NULL: not in sync
            ).label("flags"),
            func.coalesce(e.hr_digest, 0).label("digest"),
        )
        .outerjoin(d, d.employee_id == e.id)
        .outerjoin(phone, phone.c.owner_id == e.id)
        .where(e.municipality_id == municipality_id)
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


def _personal_phones(municipality_id: int) -> Subquery:
    """owner_id → the number of their active personal subscription (lowest if several)."""
    return (
        select(Subscription.owner_id, func.min(Subscription.number).label("number"))
        .where(
            Subscription.municipality_id == municipality_id,
            Subscription.kind == SubscriptionKind.PERSONAL,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
        .group_by(Subscription.owner_id)
        .subquery()
    )


def _in_sync(phone: Subquery) -> ColumnElement[bool]:
    """The directory entry holds what the employee row and ``phone`` say (the §3.1 fields)."""
    e, d = Employee, DirectoryEntry

    def same(a: Any, b: Any) -> ColumnElement[bool]:
        return func.coalesce(a, "") == func.coalesce(b, "")

    return and_(
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


def directory_size(source: Session | Engine, municipality_id: int) -> int:
    """The municipality's employees with a directory entry (what the brake counts)."""
    stmt = (
        select(func.count())
        .select_from(DirectoryEntry)
        .where(
            DirectoryEntry.municipality_id == municipality_id,
            DirectoryEntry.employee_id.is_not(None),
        )
    )
    return int(_driver_rows(source, stmt)[0][0] or 0)


def load_current(
    source: Session | Engine, municipality_id: int, employee_ids: Collection[int] | None = None
) -> pd.DataFrame:
    """The municipality's employees (all, or those of ``employee_ids``) with HR's fields and
    their directory entry, as comparable text."""
    stmt = _current_statement().where(Employee.municipality_id == municipality_id)
    # Straight from the driver (dates as the database gives them: as_text makes them alike).
    records = []
    for chosen in _id_filters(Employee.id, employee_ids):
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


def _current_statement() -> Select[*tuple[Any, ...]]:
    """Each employee's HR fields and directory entry, codes and manager joined in."""
    manager = aliased(Employee)
    unit, cost_centre = aliased(OrgUnit), aliased(CostCentre)
    dir_unit, dir_cc = aliased(OrgUnit), aliased(CostCentre)
    e, d = Employee, DirectoryEntry
    return (
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


def _read_current(
    source: Session | Engine, municipality_id: int, ids: pd.Series, population: int
) -> tuple[pd.DataFrame, pd.Series]:
    """`load_current` and `phone_numbers` of the employees of ``ids``, out of ``population``
    (past a third, of everyone in the municipality: one scan beats many lookups)."""
    chosen = None if len(ids) > population // 3 else ids.tolist()
    return (
        load_current(source, municipality_id, chosen),
        phone_numbers(source, municipality_id, chosen),
    )


def phone_numbers(
    source: Session | Engine, municipality_id: int, employee_ids: Collection[int] | None = None
) -> pd.Series:
    """employee_number → the number of their active personal subscription (lowest if several),
    for everyone of the municipality or for the employees of ``employee_ids``."""
    stmt = (
        select(Employee.employee_number, func.min(Subscription.number))
        .join(Subscription, Subscription.owner_id == Employee.id)
        .where(
            Employee.municipality_id == municipality_id,
            Subscription.kind == SubscriptionKind.PERSONAL,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
        .group_by(Employee.employee_number)
    )
    rows = []
    for chosen in _id_filters(Employee.id, employee_ids):
        rows += _driver_rows(source, stmt.where(chosen))
    return pd.Series({number: phone for number, phone in rows}, dtype=object)


def _codes(
    source: Session | Engine, model: type[OrgUnit] | type[CostCentre], municipality_id: int
) -> dict[str, int]:
    """The municipality's units (or cost centres): code → id."""
    stmt = select(model.id, model.code).where(model.municipality_id == municipality_id)
    return {code: id_ for id_, code in _driver_rows(source, stmt)}


def _last_rows_read(source: Session | Engine, municipality_id: int) -> int | None:
    rows: int | None = _first(
        source,
        select(SyncRun.rows_read)
        .where(SyncRun.municipality_id == municipality_id, SyncRun.status == SyncStatus.APPLIED)
        .order_by(SyncRun.id.desc())
        .limit(1),
    )
    return rows


def _last_applied_sha(source: Session | Engine, municipality_id: int) -> str | None:
    sha: str | None = _first(
        source,
        select(SyncRun.file_sha256)
        .where(SyncRun.municipality_id == municipality_id, SyncRun.status == SyncStatus.APPLIED)
        .order_by(SyncRun.id.desc())
        .limit(1),
    )
    return sha


def _first(source: Session | Engine, stmt: Select[Any]) -> Any:
    """The first column of the first row ``stmt`` gives, or None."""
    rows = _driver_rows(source, stmt)
    return rows[0][0] if rows else None


def _read_register(engine: Engine, municipality_id: int) -> tuple[int, pd.DataFrame]:
    """The audit chain's length, then the municipality's people (`load_people`): a later write
    appends to the chain (`_written_since`)."""
    (seq,) = _driver_rows(engine, _CHAIN_LENGTH)[0]
    return int(seq), load_people(engine, municipality_id)


def _written_since(session: Session, municipality_id: int, seq: int) -> bool:
    """Whether an audit event after ``seq`` may concern the municipality: one of its own, or
    one of no municipality's. (Another municipality's sync appends thousands of events to the
    same chain at night; they change nothing of this one's, and need not make it read again.)
    Every event after ``seq`` is read through the chain's primary key: few, unless another
    municipality's sync ran meanwhile."""
    e = AuditEvent
    mine = or_(e.municipality_id.is_(None), e.municipality_id == municipality_id)
    return session.scalar(select(e.seq).where(e.seq > seq, mine).limit(1)) is not None


_CHAIN_LENGTH = select(AuditHead.last_seq).where(AuditHead.id == 1)
