"""Loading a town into one municipality of the register: bulk inserts (COPY on PostgreSQL).

Several towns may share a register: each one's ids continue after those already there, and
the catalogue (phone models, subscription options) is shared, written once. A register from
before municipalities (schema 0007, no `municipality_id` columns) takes a town too, without
them: the load writes only the columns the tables really have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import Table, func, insert, inspect, select, text
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
    Municipality,
    OrgUnit,
    PhoneModel,
    Subscription,
    SubscriptionOption,
)
from telefoni.demo.hr_export import hr_export_frame
from telefoni.demo.town import DemoError, Town

BATCH_ROWS: Final = 5000

# The shared catalogue: (label shown to the admin, table, Town attribute, natural key).
_CATALOGUE: Final[tuple[tuple[str, type[Base], str, str], ...]] = (
    ("telefonmodeller", PhoneModel, "phone_models", "name"),
    ("abonnemangsformer", SubscriptionOption, "subscription_options", "code"),
)
# The municipality's own rows: (label shown to the admin, table, Town attribute), in
# foreign-key order.
_OWN: Final[tuple[tuple[str, type[Base], str], ...]] = (
    ("organisationsenheter", OrgUnit, "units"),
    ("kostnadsställen", CostCentre, "cost_centres"),
    ("anställda", Employee, "employees"),
    ("abonnemang", Subscription, "subscriptions"),
    ("telefoner", Device, "devices"),
    ("tillbehör", Accessory, "accessories"),
    ("poster i kunddatabasen", DirectoryEntry, "directory_entries"),
)
_TABLES: Final[tuple[type[Base], ...]] = (*(c[1] for c in _CATALOGUE), *(o[1] for o in _OWN))
# The order of the counts `load` returns (as the admin has always seen them).
_LABELS: Final = (
    "organisationsenheter",
    "kostnadsställen",
    "telefonmodeller",
    "abonnemangsformer",
    "anställda",
    "abonnemang",
    "telefoner",
    "tillbehör",
    "poster i kunddatabasen",
)


def load(
    session: Session, town: Town, *, vault: PersonnummerVault, municipality_id: int | None = None
) -> dict[str, int]:
    """Bulk-insert the town into the municipality ``municipality_id``, which must have no
    people yet (the caller commits); counts per kind written. ``municipality_id=None``: the
    register is from before municipalities (schema 0007) and has no such columns."""
    columns = _real_columns(session)
    has_municipalities = "municipality_id" in columns[Employee.__tablename__]
    if has_municipalities and municipality_id is None:
        raise DemoError("registret har kommuner: ange i vilken kommun demodata ska läsas in")
    if not has_municipalities and municipality_id is not None:
        raise DemoError(
            "registret är från före kommunerna (schema 0007): uppgradera det först "
            "(`telefoni db upgrade`) eller läs in demodata utan kommun"
        )
    _require_no_people(session, municipality_id)
    counts, catalogue = _load_catalogue(session, town, columns)
    shift = {
        model.__tablename__: session.scalar(select(func.max(model.id))) or 0  # type: ignore[attr-defined]
        for _, model, _ in _OWN
    }
    extra = _protected_columns(town, vault)
    for label, model, attr in _OWN:
        table = Base.metadata.tables[model.__tablename__]
        frame = _renumbered(getattr(town, attr), table, shift, catalogue)
        own = extra.get(attr, {})
        if municipality_id is not None:
            own = {**own, "municipality_id": [municipality_id] * len(frame)}
        _insert(session, table, frame, own, columns[table.name])
        counts[label] = len(frame)
    if session.get_bind().dialect.name == "postgresql":
        _advance_sequences(session)
    return {label: counts[label] for label in _LABELS}


def _real_columns(session: Session) -> dict[str, set[str]]:
    """The columns each table we write has in this database (not in the models)."""
    inspector = inspect(session.connection())
    tables = [model.__tablename__ for model in _TABLES]
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in tables}


def _load_catalogue(
    session: Session, town: Town, columns: dict[str, set[str]]
) -> tuple[dict[str, int], dict[str, dict[int, int]]]:
    """Write what the shared catalogue lacks (for every municipality: no municipality_id);
    counts written, and per table the register's id of each of the town's ids."""
    counts: dict[str, int] = {}
    ids: dict[str, dict[int, int]] = {}
    for label, model, attr, key in _CATALOGUE:
        table = Base.metadata.tables[model.__tablename__]
        frame: pd.DataFrame = getattr(town, attr)
        known = {k: i for k, i in session.execute(select(table.c[key], table.c.id))}
        missing = frame[~frame[key].isin(list(known))].copy()
        start = session.scalar(select(func.max(table.c.id))) or 0
        missing["id"] = np.arange(start + 1, start + 1 + len(missing))
        _insert(session, table, missing, {}, columns[table.name])
        known |= dict(zip(missing[key].tolist(), missing["id"].tolist(), strict=True))
        ids[table.name] = {
            int(own): int(known[k])
            for own, k in zip(frame["id"].tolist(), frame[key].tolist(), strict=True)
        }
        counts[label] = len(missing)
    return counts, ids


def _renumbered(
    frame: pd.DataFrame,
    table: Table,
    shift: dict[str, int],
    catalogue: dict[str, dict[int, int]],
) -> pd.DataFrame:
    """The frame with its ids, and the ids its foreign keys name, as they are in the register:
    a table's own ids moved on past what it holds, the catalogue's looked up."""
    moved = frame.copy(deep=False)
    moved["id"] = frame["id"] + shift[table.name]
    for column in table.columns:
        if column.key == "id" or column.key not in frame.columns:
            continue
        for fk in column.foreign_keys:
            target = fk.column.table.name
            if shift.get(target):
                moved[column.key] = frame[column.key] + shift[target]
            elif target in catalogue:
                moved[column.key] = frame[column.key].map(catalogue[target])
    return moved


def _protected_columns(town: Town, vault: PersonnummerVault) -> dict[str, dict[str, list[Any]]]:
    """What the frames lack, per Town attribute: personnummer as the vault keeps them, digests."""
    pnrs = [Personnummer(p.replace("-", "")) for p in town.employees["personnummer"]]
    encrypted, hashes = vault.encrypt_many(pnrs), vault.lookup_hashes(pnrs)
    entries = town.directory_entries
    personal = entries["kind"].eq("personal").to_numpy()
    row_of = (entries["employee_id"].fillna(1).astype(int) - 1).to_numpy()
    # The digest of each person's row in the town's HR export: the first sync after the load
    # knows those rows are already in the register (models.register.Employee.hr_digest).
    digests = row_digests(hr_export_frame(town), hr_digest_key(vault)).tolist()
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


def _advance_sequences(session: Session) -> None:
    """PostgreSQL: each id sequence continues after the ids the load wrote itself."""
    for model in _TABLES:
        table = model.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1), "
                f"(SELECT MAX(id) FROM {table}) IS NOT NULL)"
            )
        )


def _require_no_people(session: Session, municipality_id: int | None) -> None:
    """Refuse a municipality (or, before municipalities, a register) that holds anything of
    its own we would write (people first: the usual case)."""
    plan = sorted(_OWN, key=lambda step: step[1] is not Employee)
    for label, model, _ in plan:
        mine = select(func.count()).select_from(model)
        if municipality_id is not None:
            mine = mine.where(model.municipality_id == municipality_id)  # type: ignore[attr-defined]
        count = session.scalar(mine)
        if not count:
            continue
        if municipality_id is None:
            raise DemoError(
                f"registret är inte tomt ({count} {label} finns redan); "
                "demodata kan bara läsas in i ett tomt register"
            )
        name = session.scalar(select(Municipality.name).where(Municipality.id == municipality_id))
        raise DemoError(
            f"{name} har redan {count} {label} i registret; demodata kan bara läsas in "
            "i en kommun som inte har några"
        )


def _as_python(values: pd.Series) -> list[Any]:
    """Plain Python values with None for missing (what the DB drivers expect)."""
    plain: list[Any] = values.astype(object).where(values.notna(), None).tolist()
    return plain


def _insert(
    session: Session,
    table: Table,
    frame: pd.DataFrame,
    extra: dict[str, list[Any]],
    real: set[str],
) -> None:
    """Insert the frame's rows, and ``extra`` columns, into the columns ``real`` (those the
    table has in this database)."""
    if frame.empty:
        return
    mine = [c for c in table.columns if c.name in real]
    values: dict[str, list[Any]] = {
        c.key: _as_python(frame[c.key]) for c in mine if c.key in frame.columns
    }
    values.update({k: v for k, v in extra.items() if k in real})
    for column in mine:  # Python-side defaults (timestamps): one value for the load
        default = column.default
        if column.key not in values and isinstance(default, ColumnDefault):
            value = default.arg(None) if default.is_callable else default.arg
            values[column.key] = [value] * len(frame)
    keys, columns = list(values), list(values.values())
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table.name, keys, zip(*columns, strict=True))
        return
    for lo in range(0, len(frame), BATCH_ROWS):
        batch = zip(*(col[lo : lo + BATCH_ROWS] for col in columns), strict=True)
        session.execute(insert(table), [dict(zip(keys, row, strict=True)) for row in batch])


def _copy(session: Session, table: str, keys: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
    """PostgreSQL COPY in the session's own transaction (row-by-row INSERTs are ~10x slower)."""
    connection = session.connection().connection.driver_connection
    sql = f"COPY {table} ({', '.join(keys)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)
