"""A canary personnummer goes through the system; it must show up nowhere in clear."""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from models import audit
from models.audit import Actor
from models.base import Base
from models.outbox import PersonnummerInMail, Sender, enqueue
from models.personnummer import (
    InvalidPersonnummer,
    PersonnummerDecryptError,
    PersonnummerVault,
    make_personnummer,
    parse_personnummer,
)
from models.register import DirectoryEntry, Employee, SubscriptionKind
from telefoni.core.db import RegisterRuleViolation
from tests import factories

CANARY = make_personnummer(date(1971, 3, 14), 987)  # fictional: birth number in 980–999


def canary_forms() -> list[str]:
    d = CANARY.digits
    return [d, d[2:], f"{d[:8]}-{d[8:]}", f"{d[2:8]}-{d[8:]}", f"{d[2:8]}{d[8:]}"]


def assert_no_canary(where: str, content: str | bytes) -> None:
    data = content.encode() if isinstance(content, str) else content
    for form in canary_forms():
        assert form.encode() not in data, f"the canary personnummer appears in {where}"
    # the serial and check digits, right after the date, in any separator style
    assert (CANARY.digits[6:8] + CANARY.digits[8:]).encode() not in data, where


@pytest.fixture
def logged_session(engine: Engine, caplog: pytest.LogCaptureFixture) -> Iterator[Session]:
    """A rolled-back session whose every SQL statement goes to the captured log."""
    caplog.set_level(logging.DEBUG)
    sql_log = logging.getLogger("sqlalchemy.engine")
    sql_log.setLevel(logging.DEBUG)  # before the connection exists: it decides then
    connection = engine.connect()
    outer = connection.begin()
    try:
        yield Session(bind=connection, join_transaction_mode="create_savepoint")
    finally:
        outer.rollback()
        connection.close()
        sql_log.setLevel(logging.WARNING)


def test_canary_appears_nowhere(
    logged_session: Session, vault: PersonnummerVault, caplog: pytest.LogCaptureFixture
) -> None:
    session = logged_session
    errors: list[BaseException] = []
    # Read in every accepted form, stored through the register.
    for form in canary_forms():
        assert parse_personnummer(form, today=date(2026, 11, 28)) == CANARY
    person = factories.employee(session, vault, personnummer=CANARY)
    session.add(
        DirectoryEntry(
            kind=SubscriptionKind.PERSONAL,
            employee_id=person.id,
            name=person.name,
            personnummer_encrypted=vault.encrypt(CANARY),
            personnummer_hash=vault.lookup_hash(CANARY),
            unit_id=person.unit_id,
            cost_centre_id=person.cost_centre_id,
        )
    )
    session.flush()
    logging.getLogger("telefoni").info("registered %s (%r)", CANARY, CANARY)

    # Audited with the number in before/after and the reason.
    audit.record(
        session,
        actor=Actor.system("test"),
        action="employee.created",
        object_type="employee",
        object_id=person.employee_number,
        after={"personnummer": CANARY.canonical(), "fritext": f"pnr {CANARY.canonical()}"},
        reason=f"nyanställd {CANARY.canonical()}",
    )

    # Every way it can fail.
    wrong_check = CANARY.digits[:-1] + str((int(CANARY.digits[-1]) + 1) % 10)
    for bad in (wrong_check, CANARY.digits[:8] + "x" + CANARY.digits[9:]):
        try:
            parse_personnummer(bad)
        except InvalidPersonnummer as exc:
            errors.append(exc)
    try:
        enqueue(
            session,
            template="meddelande",
            business_key="canary",
            recipient="hr@sjobacka.example",
            sender=Sender("telefoni@sjobacka.example"),
            context={
                "subject": "Ny anställd",
                "name": None,
                "paragraphs": [f"Personnummer {CANARY.canonical()}"],
                "municipality": "Sjöbacka kommun",
            },
        )
    except PersonnummerInMail as exc:
        errors.append(exc)
    try:
        with session.begin_nested():
            factories.employee(session, vault, personnummer=CANARY)
    except RegisterRuleViolation as exc:
        errors.append(exc)
    other = PersonnummerVault(
        encryption_key=secrets.token_bytes(32), lookup_key=secrets.token_bytes(32)
    )
    try:
        other.decrypt(person.personnummer_encrypted)
    except PersonnummerDecryptError as exc:
        errors.append(exc)

    assert len(errors) == 5, "every failure path was taken"
    for error in errors:
        assert_no_canary(f"{type(error).__name__}", "".join(traceback.format_exception(error)))
    assert "INSERT INTO employee" in caplog.text  # the SQL log was really captured
    assert_no_canary("the captured log", caplog.text)

    # The database: every column of every table, read back as stored.
    stored_rows = 0
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            stored_rows += 1
            for value in row:
                assert_no_canary(
                    f"table {table.name}", value if isinstance(value, bytes) else str(value)
                )
    assert stored_rows > 0
    found = session.scalar(
        select(Employee).where(Employee.personnummer_hash == vault.lookup_hash(CANARY))
    )
    assert found is not None and vault.decrypt(found.personnummer_encrypted) == CANARY
    masked = session.execute(
        text("SELECT after FROM audit_event WHERE object_type = 'employee' AND object_id = :id"),
        {"id": person.employee_number},
    ).scalar_one()
    assert CANARY.masked.split("-")[0] in masked  # kept as the masked form, date only
