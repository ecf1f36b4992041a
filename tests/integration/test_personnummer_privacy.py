"""A canary personnummer goes through the system; it must show up nowhere in clear."""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from models import audit
from models.audit import Actor, mask_personnummer
from models.base import Base
from models.outbox import (
    OutboxMessage,
    PersonnummerInMail,
    Sender,
    enqueue,
    render,
    render_markdown,
)
from models.personnummer import (
    InvalidPersonnummer,
    Personnummer,
    PersonnummerDecryptError,
    PersonnummerVault,
    make_personnummer,
    parse_personnummer,
)
from models.register import DirectoryEntry, Employee, SubscriptionKind
from telefoni.core.db import RegisterRuleViolation
from tests import factories

CANARY = make_personnummer(date(1971, 3, 14), 987)  # fictional: birth number in 980–999
# Fictional too (birth numbers 980–999): the kinds a check could miss.
PEOPLE = {
    "personnummer": CANARY,
    "samordningsnummer": make_personnummer(date(1971, 3, 14), 987, samordning=True),  # day+60
    "aged-100-plus": make_personnummer(date(1918, 5, 2), 983),  # written YYMMDD+NNNC
}
# Between date and serial: nothing, what parse_personnummer takes, and what a word processor
# or a web page writes instead (non-breaking space and hyphen, en dash, minus sign).
SEPARATORS = ["", "-", "+", " ", "\u00a0", "\u2011", "\u2013", "\u2212"]
# Ordinary content of staff mails and orders that must never be taken for a personnummer.
ORDINARY = [
    "+46701234567",
    "+46 70 174 06 05",
    "070-174 06 05",
    "490154203237518",  # IMEI
    "49-015420-323751-8",
    "8965880812100011146",  # ICCID, 19 digits
    "89460101234567890127",  # ICCID, 20 digits
    "8946 0101 2345 6789 0127",
    "TEL-000017",
    "onboarding-17-order",
    "2025-09-01",
    "2025-09-01 08:30",
    "1 234 567,50 kr",
    "12 345 kr",
    "Kostnadsställe 4410",
    "Org.nr 212000-1355",
]


def written_forms(p: Personnummer) -> list[str]:
    """Every way to write `p`: 12 or 10 digits, each with every separator."""
    d = p.digits
    return [f"{date_part}{sep}{d[8:]}" for date_part in (d[:8], d[2:8]) for sep in SEPARATORS]


def canary_forms() -> list[str]:
    d = CANARY.digits
    return [
        d,
        d[2:],
        f"{d[:8]}-{d[8:]}",
        f"{d[2:8]}-{d[8:]}",
        f"{d[2:8]}{d[8:]}",
        f"{d[:8]} {d[8:]}",
        f"{d[2:8]} {d[8:]}",
    ]


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
            municipality_id=person.municipality_id,
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


def notice(paragraph: str, subject: str = "Ny anställd") -> dict[str, object]:
    return {
        "subject": subject,
        "name": "Åsa Öberg",
        "paragraphs": [paragraph],
        "municipality": "Sjöbacka kommun",
    }


@pytest.mark.parametrize("who", PEOPLE)
def test_a_mail_with_a_personnummer_in_any_written_form_is_refused(who: str) -> None:
    p = PEOPLE[who]
    for form in written_forms(p):
        for context in (notice(f"Gäller {form}."), notice("Hej", subject=f"Ny anställd {form}")):
            with pytest.raises(PersonnummerInMail) as caught:
                render("meddelande", context)
            assert p.digits[8:] not in str(caught.value), form
        masked = mask_personnummer(f"pnr {form}, tack")
        assert p.digits[8:] not in masked and "-****" in masked, form


def test_a_personnummer_over_a_line_break_in_the_subject_is_refused() -> None:
    d = CANARY.digits
    with pytest.raises(PersonnummerInMail):  # the subject is sent on one line: a space
        render("meddelande", notice("Hej", subject=f"Ny anställd {d[:8]}\n{d[8:]}"))


def test_a_form_text_with_a_personnummer_is_refused_as_a_mail_is() -> None:
    """The text above a run's form is read in the Prefect UI: the same check as a mail."""
    order = {"reference": "TEL-000017", "employee_name": "Åsa Öberg", "model": "Fjällfon X5"}
    shown = render_markdown("leveransformular", {"count": 1, "orders": [order]})
    assert "TEL-000017" in shown and "Åsa Öberg" in shown
    for form in written_forms(CANARY):
        leaked = {**order, "employee_name": f"Åsa Öberg {form}"}
        with pytest.raises(PersonnummerInMail) as caught:
            render_markdown("leveransformular", {"count": 1, "orders": [leaked]})
        assert CANARY.digits[8:] not in str(caught.value), form


@pytest.mark.parametrize("content", ORDINARY)
def test_ordinary_content_is_not_taken_for_a_personnummer(content: str) -> None:
    assert mask_personnummer(content) == content
    mail = render("meddelande", notice(f"Uppgift: {content}.", subject=f"Ärende {content}"))
    assert content in mail.text and content in mail.subject


def test_no_written_form_is_ever_queued(session: Session) -> None:
    before = session.scalar(select(func.count()).select_from(OutboxMessage))
    for who, p in PEOPLE.items():
        for n, form in enumerate(written_forms(p)):
            with pytest.raises(PersonnummerInMail):
                enqueue(
                    session,
                    template="meddelande",
                    business_key=f"pnr-{who}-{n}",
                    recipient="hr@sjobacka.example",
                    sender=Sender("telefoni@sjobacka.example"),
                    context=notice(f"Personnummer {form}"),
                )
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before
