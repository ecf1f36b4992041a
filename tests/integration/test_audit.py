"""The audit trail: append-only in the database, and any single tampered event is named."""

from __future__ import annotations

import random
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, select, text
from sqlalchemy.orm import Session

from models import audit
from models.audit import Actor, AuditEvent, AuditRecord, event_hash
from models.base import utcnow
from models.register import Municipality
from telefoni.core import migrate
from telefoni.core.db import RegisterRuleViolation
from tests import factories
from tests.cli import telefoni
from tests.conftest import ENGINES

TRAIL = 1000


def records(n: int, *, start: int = 1) -> list[AuditRecord]:
    return [
        AuditRecord(
            actor=Actor.person(f"E{i % 17}"),
            action="subscription.updated",
            object_type="subscription",
            object_id=f"+4670{i:07d}",
            before={"status": "ordered"},
            after={"status": "active"},
            reason=f"händelse {i}",
            rule="§4.2.3",
        )
        for i in range(start, start + n)
    ]


def bypass_triggers(conn: Connection) -> None:
    """What an attacker with DBA rights does first."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_event_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_event_no_delete")


def _table() -> Table:
    table = AuditEvent.__table__
    assert isinstance(table, Table)
    return table


def _row(conn: Connection, seq: int) -> dict[str, Any]:
    columns = _table().c
    return dict(conn.execute(select(*columns).where(columns.seq == seq)).one()._mapping)


def tamper_edit(conn: Connection, k: int) -> int:
    conn.execute(text("UPDATE audit_event SET reason = 'tyst ändrad' WHERE seq = :k"), {"k": k})
    return k


def tamper_delete(conn: Connection, k: int) -> int:
    conn.execute(text("DELETE FROM audit_event WHERE seq = :k"), {"k": k})
    return k


def tamper_reorder(conn: Connection, k: int) -> int:
    a, b = (k, k + 1) if k < TRAIL else (k - 1, k)
    conn.execute(text("UPDATE audit_event SET seq = -1 WHERE seq = :a"), {"a": a})
    conn.execute(text("UPDATE audit_event SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
    conn.execute(text("UPDATE audit_event SET seq = :b WHERE seq = -1"), {"b": b})
    return a


def tamper_insert(conn: Connection, k: int) -> int:
    """Slip a well-formed, correctly hashed event in at position k, shifting the rest."""
    conn.execute(text("UPDATE audit_event SET seq = -(seq + 1) WHERE seq >= :k"), {"k": k})
    conn.execute(text("UPDATE audit_event SET seq = -seq WHERE seq < 0"))
    forged = _row(conn, k + 1) | {
        "seq": k,
        "reason": "infogad i efterhand",
        "prev_hash": "f" * 64,  # the real predecessor's hash is taken (unique): forge one
    }
    forged["hash"] = event_hash(forged)
    conn.execute(_table().insert(), forged)
    return k


def tamper_append(conn: Connection, k: int) -> int:
    """Add a perfectly chained event after the end, behind the head's back."""
    last = _row(conn, TRAIL)
    forged = last | {"seq": TRAIL + 1, "prev_hash": last["hash"], "reason": "i efterhand"}
    forged["hash"] = event_hash(forged)
    conn.execute(_table().insert(), forged)
    return TRAIL + 1


TAMPERS = {
    "edit": tamper_edit,
    "delete": tamper_delete,
    "reorder": tamper_reorder,
    "insert": tamper_insert,
}


@pytest.fixture
def trail(session: Session) -> Iterator[Session]:
    audit.record_many(session, records(TRAIL))
    session.flush()
    yield session


def test_intact_trail_verifies(trail: Session) -> None:
    verdict = audit.verify(trail)
    assert verdict.intact, verdict
    assert verdict.checked == TRAIL


def test_chain_continues_across_appends(trail: Session) -> None:
    seqs = audit.record_many(trail, records(3, start=TRAIL + 1))
    assert seqs == [TRAIL + 1, TRAIL + 2, TRAIL + 3]
    assert audit.verify(trail).checked == TRAIL + 3


@pytest.mark.parametrize("position", [1, 2, 500, TRAIL - 1, TRAIL])
@pytest.mark.parametrize("how", list(TAMPERS))
def test_any_single_tampered_event_is_named(trail: Session, how: str, position: int) -> None:
    conn = trail.connection()
    bypass_triggers(conn)
    expected = TAMPERS[how](conn, position)
    verdict = audit.verify(trail)
    assert not verdict.intact
    assert verdict.bad_seq == expected, verdict
    assert verdict.problem


def test_appending_behind_the_heads_back_is_named(trail: Session) -> None:
    conn = trail.connection()
    bypass_triggers(conn)
    expected = tamper_append(conn, TRAIL)
    verdict = audit.verify(trail)
    assert verdict.bad_seq == expected == TRAIL + 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET reason = 'x' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 1",
        "DELETE FROM audit_head",
    ],
)
def test_database_refuses_update_and_delete(trail: Session, statement: str) -> None:
    with pytest.raises(RegisterRuleViolation) as info, trail.begin_nested():
        trail.execute(text(statement))
    assert info.value.constraint == "audit_append_only"
    assert "händelseloggen" in str(info.value)


def test_before_and_after_are_masked(session: Session) -> None:
    seq = audit.record(
        session,
        actor=Actor.system("test"),
        action="employee.updated",
        object_type="employee",
        object_id="E1",
        before={"personnummer": "19850709-9821", "note": "pnr 850709-9821 i fritext"},
        after={"nested": [{"id": "198507099821"}]},
        reason="rättad 19850709-9821",
    )
    row = session.execute(text("SELECT * FROM audit_event WHERE seq = :s"), {"s": seq}).one()
    # Every column but the chain's hex digests, which hold "9821" about once in 500 rows.
    stored = " ".join(str(v) for k, v in row._mapping.items() if not k.endswith("hash"))
    assert {"before", "after", "reason"} <= row._mapping.keys()
    assert "9821" not in stored
    assert "850709-****" in stored


# --- the CLI, on a committed trail in a database of its own -----------------------------------


def verify_cli(engine: Engine) -> subprocess.CompletedProcess[str]:
    return telefoni("audit", "verify", engine=engine)


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("how", [*TAMPERS, "none"])
def test_audit_verify_command(
    kind: str, how: str, make_empty_database: Callable[[str], AbstractContextManager[Engine]]
) -> None:
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine)
        with Session(engine) as session, session.begin():
            audit.record_many(session, records(TRAIL))
        if how == "none":
            result = verify_cli(engine)
            assert result.returncode == 0, result.stdout + result.stderr
            assert f"{TRAIL} händelser kontrollerade" in result.stdout
            return
        with engine.begin() as conn:
            bypass_triggers(conn)
            bad = TAMPERS[how](conn, 437)
        result = verify_cli(engine)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"händelse {bad}:" in result.stdout


@pytest.mark.parametrize("kind", ENGINES)
def test_concurrent_writers_leave_one_linear_chain(
    kind: str, make_empty_database: Callable[[str], AbstractContextManager[Engine]]
) -> None:
    """8 writers × 500 events, in transactions of 1–20 events, all at once."""
    writers, per_writer = 8, 500
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine)
        start = threading.Barrier(writers)

        def write(w: int) -> None:
            rng = random.Random(w)
            start.wait()
            done = 0
            while done < per_writer:
                n = min(rng.randint(1, 20), per_writer - done)
                with Session(engine) as session, session.begin():
                    audit.record_many(session, records(n, start=w * per_writer + done))
                done += n

        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))

        with Session(engine) as session:
            verdict = audit.verify(session)
            assert verdict.intact, verdict
            assert verdict.checked == writers * per_writer
            reasons = session.scalars(select(AuditEvent.reason)).all()
        assert None not in reasons
        assert sorted(r for r in reasons if r is not None) == sorted(
            f"händelse {i}" for i in range(writers * per_writer)
        )


@pytest.mark.parametrize("kind", ENGINES)
def test_audit_show_gives_an_objects_history(
    kind: str,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
    tmp_path: Path,
) -> None:
    """What an auditor asks for: one person's history as a table, and every field as CSV."""
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine)
        with Session(engine) as session, session.begin():
            audit.record(
                session,
                actor=Actor.person("hr.handlaggare"),
                action="directory.updated",
                object_type="employee",
                object_id="A000101",
                before={"titel": "Handläggare"},
                after={"titel": "=Enhetschef"},
                reason="ändrad i HR-exporten",
                rule="§3.1",
                municipality_id=factories.municipality(session),
            )
            audit.record_many(session, records(3))  # about other objects

        table = telefoni("audit", "show", "--employee", "A000101", engine=engine)
        assert table.returncode == 0, table.stderr
        assert "directory.updated" in table.stdout and "§3.1" in table.stdout
        assert "titel: Handläggare → =Enhetschef" in table.stdout
        assert "subscription.updated" not in table.stdout

        path = tmp_path / "historik.csv"
        export = telefoni(
            "audit", "show", "--employee", "A000101", "--csv", str(path), engine=engine
        )
        assert export.returncode == 0, export.stderr
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        assert lines[0].split(";")[:3] == ["seq", "occurred_at", "actor_type"]
        assert len(lines) == 2 and lines[0].endswith(";prev_hash;municipality_id;hash")
        assert '"{""titel"":""=Enhetschef""}"' in lines[1]  # JSON, never a formula

        nothing = telefoni("audit", "show", "--device", "999", engine=engine)
        assert nothing.returncode == 0 and "Inga händelser" in nothing.stdout


TWO_MUNICIPALITIES = """
[kommun.hallsberg]
name = "Hallsbergs kommun"
contact_centre_email = "kontaktcenter@hallsberg.example"
hr_export_path = "hallsberg.csv"

[kommun.laxa]
name = "Laxå kommun"
contact_centre_email = "kundtjanst@laxa.example"
hr_export_path = "laxa.csv"
"""


@pytest.mark.parametrize("kind", ENGINES)
def test_audit_show_kommun_shows_only_that_municipalitys_events(
    kind: str,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
    tmp_path: Path,
) -> None:
    """Two municipalities, each with its own A000101: each sees only its own person's story,
    and a register's events from before municipalities are the first municipality's."""
    settings_file = tmp_path / "kommuner.toml"
    settings_file.write_text(TWO_MUNICIPALITIES, encoding="utf-8")
    with make_empty_database(kind) as engine:
        migrate.upgrade(engine)
        with Session(engine) as session, session.begin():
            audit.record(  # written before the register knew municipalities
                session,
                actor=Actor.system("directory-sync"),
                action="directory.created",
                object_type="employee",
                object_id="A000101",
                reason="Förr: Hallsbergs Hanna",
            )
            hallsberg = factories.municipality(session, "hallsberg", "Hallsbergs kommun")
            session.get_one(Municipality, hallsberg).audit_through = 1
            laxa = factories.municipality(session, "laxa", "Laxå kommun")
            for where, who in ((hallsberg, "Hallsbergs Hanna"), (laxa, "Laxås Lars")):
                audit.record(
                    session,
                    actor=Actor.system("directory-sync"),
                    action="directory.updated",
                    object_type="employee",
                    object_id="A000101",
                    reason=f"ändrad: {who}",
                    municipality_id=where,
                )
            audit.record(  # the installation's own, nobody's people
                session,
                actor=Actor.system("relay"),
                action="outbox.dead_letter",
                object_type="outbox_message",
                object_id="7",
                reason="Installationens egen",
            )

        def show(*args: str) -> subprocess.CompletedProcess[str]:
            return telefoni(
                "audit",
                "show",
                *args,
                engine=engine,
                TELEFONI_MUNICIPALITIES_FILE=str(settings_file),
            )

        laxas = show("--employee", "A000101", "--kommun", "Laxå")
        assert laxas.returncode == 0, laxas.stderr
        assert "Laxås Lars" in laxas.stdout
        assert "Hallsbergs Hanna" not in laxas.stdout and "Installationens" not in laxas.stdout

        hallsbergs = show("--employee", "A000101", "--kommun", "hallsberg")
        assert hallsbergs.returncode == 0, hallsbergs.stderr
        assert "Förr: Hallsbergs Hanna" in hallsbergs.stdout
        assert "ändrad: Hallsbergs Hanna" in hallsbergs.stdout
        assert "Laxås Lars" not in hallsbergs.stdout

        everything = show("--kommun", "laxa")
        assert everything.returncode == 0, everything.stderr
        assert "Laxås Lars" in everything.stdout
        assert "Hanna" not in everything.stdout and "Installationens" not in everything.stdout

        path = tmp_path / "laxa.csv"
        export = show("--kommun", "laxa", "--csv", str(path))
        assert export.returncode == 0, export.stderr
        rows = path.read_text(encoding="utf-8-sig").splitlines()
        assert len(rows) == 2 and "Laxås Lars" in rows[1] and "Hanna" not in rows[1]

        unclear = show("--employee", "A000101")
        assert unclear.returncode == 2
        assert "ange vilken kommun det gäller (--kommun)" in unclear.stderr
        assert "laxa (Laxå kommun)" in unclear.stderr


def test_an_events_municipality_is_covered_by_its_hash() -> None:
    """Moving an event to another municipality breaks the chain there; an event from before
    municipalities (none) hashes as it did."""
    (row,) = audit.chain(
        [AuditRecord(Actor.system("x"), "a", "employee", "A1", municipality_id=2)],
        last_seq=0,
        last_hash=audit.GENESIS_HASH,
        at=utcnow(),
    )
    assert event_hash(row) == row["hash"]
    assert event_hash({**row, "municipality_id": 3}) != row["hash"]
    assert event_hash({**row, "municipality_id": None}) != row["hash"]
    (old,) = audit.chain(
        [AuditRecord(Actor.system("x"), "a", "employee", "A1")],
        last_seq=0,
        last_hash=audit.GENESIS_HASH,
        at=utcnow(),
    )
    without = {k: v for k, v in old.items() if k != "municipality_id"}
    assert event_hash(without) == old["hash"]
