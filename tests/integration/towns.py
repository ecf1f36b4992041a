"""The demo town loaded as one municipality's people, beside those of others in one register.

`telefoni.demo.load` fills an empty register with one town whose ids are its row numbers. Here
a town is loaded into a register that may hold other municipalities' towns already: its ids
continue after the rows there are, every row carries the municipality, the shared catalogue is
loaded once, and what must be unique across all municipalities is made so (the phone numbers
of the n-th town loaded begin +467n; its phones have no IMEI after the first town). Each
person's HR row digest is stored as the demo stores it, so the first sync of the town's own
export is an ordinary night's.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import ColumnDefault

from models.base import Base
from models.directory_sync import hr_digest_key
from models.hr_export import row_digests
from models.personnummer import Personnummer, PersonnummerVault
from models.register import (
    Accessory,
    CostCentre,
    Device,
    DirectoryEntry,
    Employee,
    OrgUnit,
    PhoneModel,
    Subscription,
    SubscriptionOption,
)
from telefoni import demo

# Town attribute → table, in foreign-key order; the catalogue is shared (no municipality).
OWN: tuple[tuple[str, type[Base]], ...] = (
    ("units", OrgUnit),
    ("cost_centres", CostCentre),
    ("employees", Employee),
    ("subscriptions", Subscription),
    ("devices", Device),
    ("accessories", Accessory),
    ("directory_entries", DirectoryEntry),
)
SHARED: tuple[tuple[str, type[Base], str], ...] = (
    ("phone_models", PhoneModel, "name"),
    ("subscription_options", SubscriptionOption, "code"),
)


def load_town(
    session: Session, town: demo.Town, *, vault: PersonnummerVault, municipality_id: int
) -> None:
    """Load ``town`` as the people of ``municipality_id`` (the caller commits)."""
    nth = int(session.scalar(select(func.count(func.distinct(Employee.municipality_id)))) or 0)
    assert nth < 10, "at most ten towns in one register"
    new_id: dict[str, dict[int, int]] = {}  # table → the town's id → the register's
    for attr, shared, key in SHARED:
        frame = getattr(town, attr)
        table = _table(shared)
        have: dict[Any, int] = dict(session.execute(select(table.c[key], table.c.id)).all())
        if not have:
            _insert(session, shared, frame, {})
            have = dict(zip(frame[key], frame["id"], strict=True))
        new_id[table.name] = {
            int(i): int(have[k]) for i, k in zip(frame["id"], frame[key], strict=True)
        }
    offsets = {
        _table(m).name: int(session.scalar(select(func.max(_table(m).c.id))) or 0) for _, m in OWN
    }
    extra = _protected_columns(town, vault)
    for attr, model in OWN:
        frame = _renumbered(getattr(town, attr), model, offsets, new_id)
        frame["municipality_id"] = municipality_id
        if "number" in frame.columns or "phone_number" in frame.columns:
            column = "number" if "number" in frame.columns else "phone_number"
            frame[column] = frame[column].str.replace("+4670", f"+467{nth}", n=1, regex=False)
        if model is Device and nth:
            frame["imei"] = None
        _insert(session, model, frame, extra.get(attr, {}))
    if session.get_bind().dialect.name == "postgresql":
        for name in (*offsets, *new_id):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT MAX(id) FROM {name}))"
                )
            )


def _renumbered(
    frame: pd.DataFrame,
    model: type[Base],
    offsets: dict[str, int],
    new_id: dict[str, dict[int, int]],
) -> pd.DataFrame:
    """``frame`` with its ids, and every foreign key to the town's tables, as the register's."""
    table = _table(model)
    out = frame.copy()
    for column in table.columns:
        if column.key not in out.columns:
            continue
        if column.key == "id":
            target: str | None = table.name
        else:
            target = next((fk.column.table.name for fk in column.foreign_keys), None)
        if target in new_id:
            mapping = new_id[target]
            out[column.key] = [None if pd.isna(v) else mapping[int(v)] for v in out[column.key]]
        elif target in offsets:
            shifted = out[column.key].astype("Int64") + offsets[target]
            out[column.key] = shifted.astype(object).where(shifted.notna(), None)
    return out


def _protected_columns(town: demo.Town, vault: PersonnummerVault) -> dict[str, dict[str, Any]]:
    """What the frames lack: personnummer as the vault keeps them, and the HR row digests."""
    pnrs = [Personnummer(p.replace("-", "")) for p in town.employees["personnummer"]]
    encrypted, hashes = vault.encrypt_many(pnrs), vault.lookup_hashes(pnrs)
    entries = town.directory_entries
    personal = entries["kind"].eq("personal").to_numpy()
    row_of = (entries["employee_id"].fillna(1).astype(int) - 1).to_numpy()
    digests = row_digests(demo.hr_export_frame(town), hr_digest_key(vault)).tolist()
    return {
        "employees": {
            "personnummer_encrypted": encrypted,
            "personnummer_hash": hashes,
            "hr_digest": digests,
        },
        "directory_entries": {
            "personnummer_encrypted": [
                encrypted[r] if p else None for r, p in zip(row_of, personal, strict=True)
            ],
            "personnummer_hash": [
                hashes[r] if p else None for r, p in zip(row_of, personal, strict=True)
            ],
        },
    }


def _insert(
    session: Session, model: type[Base], frame: pd.DataFrame, extra: dict[str, Any]
) -> None:
    """The frame's columns of the table, and ``extra``: COPY on PostgreSQL, else executemany."""
    table = _table(model)
    values: dict[str, list[Any]] = {
        c.key: _plain(frame[c.key]) for c in table.columns if c.key in frame.columns
    }
    values.update(extra)
    for column in table.columns:  # Python-side defaults (timestamps): one value for the load
        default = column.default
        if column.key not in values and isinstance(default, ColumnDefault):
            value = default.arg(None) if default.is_callable else default.arg
            values[column.key] = [value] * len(frame)
    keys, rows = list(values), list(zip(*values.values(), strict=True))
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        connection = session.connection().connection.driver_connection
        sql = f"COPY {table.name} ({', '.join(keys)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    session.execute(insert(table), [dict(zip(keys, row, strict=True)) for row in rows])


def _plain(values: pd.Series) -> list[Any]:
    """Plain Python values with None for missing (what the drivers expect)."""
    plain: list[Any] = values.astype(object).where(values.notna(), None).tolist()
    return plain


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
