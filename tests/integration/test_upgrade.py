"""A register from before municipalities upgrades in place: all of it in the one configured.

What the admin of a running installation does (`telefoni db upgrade`) and then checks
(`telefoni db check`, `telefoni audit verify`, `telefoni audit show`), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
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


def _waiting_order(employee_id: int, at: datetime, **fields: Any) -> dict[str, Any]:
    """An onboarding order waiting for its manager, as an order row of before holds it."""
    return {
        "request_attempt": 0,
        "status": "awaiting_approval",
        "employee_id": employee_id,
        "need_category": 2,
        "phone_model_name": "Nordfon 5",
        "headset": False,
        "subscription_option_code": "MOBIL",
        "data": True,
        "referral": True,
        "apps": [],
        "replacement": False,
        "requested_by": "E1",
        "findings": [],
        "approval_round": 1,
        "delivery_round": 1,
        "created_at": at,
        "updated_at": at,
        **fields,
    }


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
                _waiting_order(person_id, now, request_key="k" * 64, reminders_sent=0)
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
        owned = [name for name in OWNED if name in old]  # the tables of 0007's register
        before = {name: _rows(engine, old[name]) for name in (*owned, *CATALOGUE)}
        assert len(owned) == 10 and set(CATALOGUE) == {"phone_model", "subscription_option"}
        assert all(before[name] for name in (*owned, *CATALOGUE)), "every table holds rows"

        upgraded = telefoni(
            "db", "upgrade", engine=engine, data_dir=tmp_path, TELEFONI_MUNICIPALITY=town
        )
        assert upgraded.returncode == 0, upgraded.stderr

        new = _tables(engine)
        (municipality,) = _rows(engine, new["municipality"])
        assert (municipality["code"], municipality["name"]) == ("askersund", "Askersunds kommun")
        assert municipality["audit_through"] == written
        for name in owned:
            after = _rows(engine, new[name])
            assert {r["municipality_id"] for r in after} == {municipality["id"]}, name
            # Nothing else changed: the same rows, field by field (but the columns added since).
            assert [
                {k: v for k, v in r.items() if k in old[name].c and k != "municipality_id"}
                for r in after
            ] == before[name], name
        assert _rows(engine, new["ask"]) == []  # the order was never put to its manager
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


@pytest.mark.parametrize("kind", ENGINES)
def test_an_order_waiting_for_its_manager_gets_its_ask_and_the_watch_carries_on(
    kind: str,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
    vault: PersonnummerVault,
) -> None:
    """Upgraded while a manager was asked (two reminders sent): the order waits on, reminded
    and due as before, and the manager, whose mail had no code, can have one."""
    from datetime import timedelta

    from models.asks import Ask, AskStatus
    from models.onboarding import OnboardingOrder
    from models.outbox import OutboxMessage
    from tasks.kinds import KINDS
    from tasks.people import Given, answer, watch
    from tests.integration.test_onboarding_ordering import home_ctx

    asked = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine, "0008")
        with Session(engine) as session, session.begin():
            home = _home_municipality(session)
            demo.load(
                session,
                demo.generate(employees=40, seed=2, today=date(2026, 11, 2)),
                vault=vault,
                municipality_id=home,
            )
        tables = _tables(engine)
        employee = tables["employee"]
        with engine.begin() as conn:
            person_id, manager_id = conn.execute(
                select(employee.c.id, employee.c.manager_id)
                .where(employee.c.manager_id.is_not(None))
                .limit(1)
            ).one()
            conn.execute(
                insert(tables["onboarding_order"]).values(
                    _waiting_order(
                        person_id,
                        asked,
                        municipality_id=home,
                        request_key="w" * 64,
                        approver_id=manager_id,
                        approval_requested_at=asked,
                        reminders_sent=2,
                        flow_run_id="5b1f7c4e-0000-4000-8000-0000000000f1",
                    )
                )
            )
        migrate.upgrade(engine)

        with Session(engine) as session, session.begin():
            (order,) = session.scalars(select(OnboardingOrder)).all()
            (ask,) = session.scalars(select(Ask)).all()
            assert order.ask_id == ask.id and ask.status is AskStatus.OPEN
            assert (ask.assignee_id, ask.flow_run_id) == (manager_id, order.flow_run_id)
            assert (ask.asked_at, ask.due_at) == (asked, asked + timedelta(days=14))
            assert (ask.reminders_sent, ask.remind_every_hours) == (2, 48.0)
            assert ask.object_id == order.reference and ask.kind == "onboarding_approval"
            ctx = replace(home_ctx(session), municipality_id=home)
            watch(session, kinds=KINDS, ctx=ctx.asking, now=asked + timedelta(hours=143))
            assert ask.reminders_sent == 2  # the third is due at 144 hours
            watch(session, kinds=KINDS, ctx=ctx.asking, now=asked + timedelta(hours=145))
            assert ask.reminders_sent == 3
            number = str(ask.assignee.employee_number) if ask.assignee else ""
            outcome = answer(
                session,
                ask.id,
                Given(who=number, code="", answer="godkänn"),
                kind=KINDS[ask.kind],
                ctx=ctx.asking,
                now=asked + timedelta(hours=146),
            )
            assert "En ny kod har skickats" in outcome.message
            mails = session.scalars(select(OutboxMessage.template)).all()
            assert sorted(mails) == ["beslutsbegaran", "engangskod"]


def _home_municipality(session: Session) -> int:
    from models.register import Municipality

    row = Municipality(code="hallsberg", name="Hallsbergs kommun")
    session.add(row)
    session.flush()
    return row.id
