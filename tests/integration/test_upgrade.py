"""A register from before municipalities upgrades in place: all of it in the one configured.

What the admin of a running installation does (`telefoni db upgrade`) and then checks
(`telefoni db check`, `telefoni audit verify`, `telefoni audit show`), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, insert, select, update
from sqlalchemy.orm import Session

from models import audit
from models.audit import Actor, AuditRecord
from models.base import Base
from models.personnummer import PersonnummerVault
from telefoni import demo
from telefoni.core import migrate
from tests.cli import telefoni
from tests.conftest import ENGINES

BEFORE = "0007"  # the schema before municipalities


def _with_municipality(nullable: bool) -> tuple[str, ...]:
    """The register's tables whose rows belong to one municipality (``nullable``: or to none,
    the shared catalogue), as the models say."""
    return tuple(
        t.name
        for t in Base.metadata.sorted_tables
        if "municipality_id" in t.c
        and t.c.municipality_id.nullable is nullable
        and t.name != "audit_event"
    )


OWNED = _with_municipality(False)
CATALOGUE = _with_municipality(True)


def _tables(engine: Engine) -> dict[str, Table]:
    meta = MetaData()
    meta.reflect(engine)
    return dict(meta.tables)


def _rows(engine: Engine, table: Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(*table.primary_key))]


def _fill_the_old_register(engine: Engine, vault: PersonnummerVault) -> tuple[str, int]:
    """Demo data, an order, a sync run with a quarantined row and audit events, written as the
    register of schema 0007 holds them; (an employee number, the events written)."""
    town = demo.generate(employees=120, seed=5, today=date(2026, 11, 2))
    with Session(engine) as session, session.begin():
        demo.load(session, town, vault=vault, municipality_id=None)
    tables = _tables(engine)
    now = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    with engine.begin() as conn:
        person_id, number = conn.execute(
            select(tables["employee"].c.id, tables["employee"].c.employee_number).limit(1)
        ).one()
        conn.execute(
            insert(tables["onboarding_order"]).values(
                request_key="k" * 64,
                request_attempt=0,
                status="awaiting_approval",
                employee_id=person_id,
                need_category=2,
                phone_model_name="Nordfon 5",
                headset=False,
                subscription_option_code="MOBIL",
                data=True,
                referral=True,
                apps=[],
                replacement=False,
                requested_by="E1",
                findings=[],
                reminders_sent=0,
                approval_round=1,
                delivery_round=1,
                created_at=now,
                updated_at=now,
            )
        )
        run_id = conn.execute(
            insert(tables["sync_run"])
            .values(
                started_at=now,
                file_name="hr-export.csv",
                file_sha256="0" * 64,
                status="applied",
                rows_read=121,
                rows_applied=120,
                rows_unchanged=0,
                rows_quarantined=1,
                joiners=0,
                changed=0,
                leavers=0,
                mass_removal_allowed=False,
            )
            .returning(tables["sync_run"].c.id)
        ).scalar_one()
        conn.execute(
            insert(tables["hr_quarantine"]).values(
                sync_run_id=run_id,
                row_number=7,
                employee_number="A999999",
                field="personnummer",
                reason="ogiltigt",
            )
        )
        # Audit events as 0007 stored them: no municipality column.
        events = [
            AuditRecord(
                Actor.system("directory-sync"),
                "directory.updated",
                "employee",
                number,
                before={"titel": "Handläggare"},
                after={"titel": f"Utredare {i}"},
                reason="ändrad i HR-exporten",
                rule="§3.1",
            )
            for i in range(5)
        ]
        rows = audit.chain(events, last_seq=0, last_hash=audit.GENESIS_HASH, at=now)
        conn.execute(
            insert(tables["audit_event"]),
            [{k: v for k, v in r.items() if k != "municipality_id"} for r in rows],
        )
        conn.execute(
            update(tables["audit_head"]).values(last_seq=len(rows), last_hash=rows[-1]["hash"])
        )
    return str(number), len(rows)


@pytest.mark.parametrize("kind", ENGINES)
def test_a_register_of_today_upgrades_with_everything_in_the_configured_municipality(
    kind: str,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
    vault: PersonnummerVault,
    tmp_path: Path,
) -> None:
    town = "Askersunds kommun"  # today's settings: TELEFONI_MUNICIPALITY, one municipality
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine, BEFORE)
        number, written = _fill_the_old_register(engine, vault)
        old = _tables(engine)
        before = {name: _rows(engine, old[name]) for name in (*OWNED, *CATALOGUE)}
        assert len(OWNED) == 10 and set(CATALOGUE) == {"phone_model", "subscription_option"}
        assert all(before[name] for name in (*OWNED, *CATALOGUE)), "every table holds rows"

        upgraded = telefoni(
            "db", "upgrade", engine=engine, data_dir=tmp_path, TELEFONI_MUNICIPALITY=town
        )
        assert upgraded.returncode == 0, upgraded.stderr

        new = _tables(engine)
        (municipality,) = _rows(engine, new["municipality"])
        assert (municipality["code"], municipality["name"]) == ("askersund", "Askersunds kommun")
        assert municipality["audit_through"] == written
        for name in OWNED:
            after = _rows(engine, new[name])
            assert {r["municipality_id"] for r in after} == {municipality["id"]}, name
            # Nothing else changed: the same rows, field by field.
            assert [{k: v for k, v in r.items() if k != "municipality_id"} for r in after] == (
                before[name]
            ), name
        for name in CATALOGUE:  # shared by every municipality
            after = _rows(engine, new[name])
            assert {r["municipality_id"] for r in after} == {None}, name
            assert [{k: v for k, v in r.items() if k != "municipality_id"} for r in after] == (
                before[name]
            ), name

        check = telefoni(
            "db", "check", engine=engine, data_dir=tmp_path, TELEFONI_MUNICIPALITY=town
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "Schemat stämmer med modellerna." in check.stdout
        verified = telefoni(
            "audit", "verify", engine=engine, data_dir=tmp_path, TELEFONI_MUNICIPALITY=town
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"{written} händelser kontrollerade" in verified.stdout
        # The events of before are the municipality's own history.
        shown = telefoni(
            "audit", "show", "--employee", number, engine=engine, TELEFONI_MUNICIPALITY=town
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.count("directory.updated") == written


@pytest.mark.parametrize("kind", ENGINES)
def test_an_empty_register_upgrades_without_a_municipality(
    kind: str, make_empty_database: Callable[[str], AbstractContextManager[Engine]]
) -> None:
    """A new installation gets its municipalities when first used, from its settings."""
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine, BEFORE)
        migrate.upgrade(engine)
        assert _rows(engine, _tables(engine)["municipality"]) == []
        assert migrate.drift(engine) == []
