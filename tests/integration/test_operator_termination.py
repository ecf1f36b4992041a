"""Terminations (§8.1) through the operator gateway: against a real HTTP stand-in on loopback,
and as e-mail to the ordering function in a real outbox (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit import mask_personnummer
from models.ordering import TerminationOrder
from models.outbox import OutboxMessage, PersonnummerInMail, Sender
from tasks.operator import (
    EmailGateway,
    HttpGateway,
    OperatorRefusedError,
    OperatorTransientError,
    is_transient,
)
from tests.integration.operator_stand_in import Fault, OperatorStandIn

TIMEOUT = 0.5  # the client's; the stand-in stalls longer
ORDERING = "bestallning@sjobacka.example"
NUMBER = "+46701740605"  # PTS's fictional mobile series
WHAT = f"uppsägning AVS-000012 ({NUMBER})"


def make_termination(n: int = 12, **changes: object) -> TerminationOrder:
    termination = TerminationOrder(
        idempotency_key=f"offboarding-{n}-terminate",
        reference=f"AVS-{n:06d}",
        number=NUMBER,
        employee_number=f"E{1000 + n}",
        employee_name="Åsa Öberg",
        last_day=date(2026, 11, 30),
        requested_by="E0042",
        municipality="Sjöbacka kommun",
    )
    return replace(termination, **changes)  # type: ignore[arg-type]


@pytest.fixture
def no_db() -> Iterator[Session]:
    """The HTTP gateway takes a session only to share the interface: it never uses it."""
    with Session() as session:
        yield session


@pytest.fixture
def gateway(operator_api: OperatorStandIn) -> Iterator[HttpGateway]:
    operator_api.stall_seconds = 3 * TIMEOUT
    with HttpGateway(operator_api.url, None, TIMEOUT) as gw:
        yield gw


# --- HTTP: sending a termination ---------------------------------------------------------------


def test_new_termination_is_sent_and_confirmed(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    termination = make_termination()
    receipt = gateway.terminate(no_db, termination)
    assert receipt.channel == "http"
    assert receipt.confirmed and not receipt.duplicate
    assert receipt.operator_reference == "TELIA-U000001"
    key = termination.idempotency_key
    assert operator_api.terminations == {key: termination.payload()}
    assert operator_api.terminations[key]["ends_from"] == "2026-12-01"
    assert operator_api.termination_count(key) == 1
    assert operator_api.orders == {}  # a termination is not an order
    assert gateway.termination_state(termination) == "confirmed"


def test_same_key_again_is_a_duplicate(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    termination = make_termination()
    first = gateway.terminate(no_db, termination)
    again = gateway.terminate(no_db, termination)
    assert again.duplicate and not first.duplicate
    assert again.operator_reference == first.operator_reference
    assert len(operator_api.terminations) == 1
    assert operator_api.termination_count(termination.idempotency_key) == 2


@pytest.mark.parametrize("fault", [Fault.TIMEOUT_AFTER, Fault.RESET_AFTER])
def test_lost_answer_then_retry_finds_the_termination(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session, fault: Fault
) -> None:
    termination = make_termination()
    key = termination.idempotency_key
    operator_api.fail_next(fault)
    with pytest.raises(OperatorTransientError) as caught:
        gateway.terminate(no_db, termination)
    assert is_transient(caught.value)
    assert WHAT in str(caught.value)
    assert list(operator_api.terminations) == [key]  # it did arrive
    receipt = gateway.terminate(no_db, termination)  # the retry, with the same key
    assert receipt.duplicate and receipt.confirmed
    assert receipt.operator_reference == operator_api.termination_reference(key)
    assert len(operator_api.terminations) == 1  # the operator holds exactly one
    assert operator_api.termination_count(key) == 2


@pytest.mark.parametrize(
    "fault", [Fault.HTTP_500, Fault.TIMEOUT_BEFORE, Fault.RESET, Fault.HTTP_429]
)
def test_transient_faults_send_nothing_and_the_retry_sends_it(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session, fault: Fault
) -> None:
    termination = make_termination()
    operator_api.retry_after = "2"
    operator_api.fail_next(fault)
    with pytest.raises(OperatorTransientError) as caught:
        gateway.terminate(no_db, termination)
    message = str(caught.value)
    assert WHAT in message and "Åsa Öberg" not in message
    assert caught.value.retry_after == (2.0 if fault is Fault.HTTP_429 else None)
    assert operator_api.terminations == {}  # nothing was recorded
    assert not gateway.terminate(no_db, termination).duplicate
    assert len(operator_api.terminations) == 1


@pytest.mark.parametrize(
    ("status", "reason"),
    [(422, "numret tillhör inte kundnumret"), (409, "abonnemanget är redan uppsagt")],
)
def test_refusals_carry_the_operators_reason(
    gateway: HttpGateway,
    operator_api: OperatorStandIn,
    no_db: Session,
    status: int,
    reason: str,
) -> None:
    operator_api.refuse_next(status, reason)
    with pytest.raises(OperatorRefusedError) as caught:
        gateway.terminate(no_db, make_termination())
    assert not is_transient(caught.value)
    assert caught.value.status == status
    message = str(caught.value)
    assert f"Operatören avvisade {WHAT} (HTTP {status}): {reason}" == message
    assert operator_api.terminations == {}


def test_same_key_with_another_termination_is_refused(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    gateway.terminate(no_db, make_termination())
    with pytest.raises(OperatorRefusedError, match=r"HTTP 422.*annan uppsägning"):
        gateway.terminate(no_db, make_termination(last_day=date(2026, 12, 31)))
    assert len(operator_api.terminations) == 1


def test_termination_with_a_personnummer_is_not_sent(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    with pytest.raises(OperatorRefusedError, match="innehåller ett personnummer") as caught:
        gateway.terminate(no_db, make_termination(employee_name="Åsa Öberg 19850709-9805"))
    assert str(caught.value).startswith(f"U{WHAT[1:]} skickades inte")
    assert "9805" not in str(caught.value)
    assert operator_api.calls == 0


def test_stand_in_requires_the_key_and_the_fields(operator_api: OperatorStandIn) -> None:
    url = f"{operator_api.url}/terminations"
    payload = make_termination().payload()
    assert httpx.post(url, json=payload).status_code == 400
    headers = {"Idempotency-Key": "offboarding-12-terminate"}
    missing = httpx.post(url, json=payload | {"number": "", "reference": None}, headers=headers)
    assert missing.status_code == 422
    assert missing.json() == {"error": "fält saknas: reference, number"}
    assert operator_api.terminations == {}
    assert operator_api.termination_count("offboarding-12-terminate") == 1


# --- HTTP: where a termination stands ----------------------------------------------------------


def test_pending_then_confirmed(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    operator_api.configure(confirm_terminations=False)
    termination = make_termination()
    receipt = gateway.terminate(no_db, termination)
    assert not receipt.confirmed and not receipt.duplicate
    assert gateway.termination_state(termination) == "pending"
    assert gateway.termination_state(termination) == "pending"  # asking changes nothing
    operator_api.confirm_termination(termination.idempotency_key)
    assert gateway.termination_state(termination) == "confirmed"
    again = gateway.terminate(no_db, termination)
    assert again.duplicate and again.confirmed
    assert len(operator_api.terminations) == 1


def test_refused_by_the_operator_afterwards(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    operator_api.configure(confirm_terminations=False)
    termination = make_termination()
    gateway.terminate(no_db, termination)
    operator_api.refuse_termination(termination.idempotency_key, "numret har bindningstid")
    assert gateway.termination_state(termination) == "refused"
    with pytest.raises(OperatorRefusedError, match="numret har bindningstid") as caught:
        gateway.terminate(no_db, termination)  # sending it again does not make it go through
    assert not is_transient(caught.value)
    assert WHAT in str(caught.value)


def test_unknown_termination(gateway: HttpGateway, operator_api: OperatorStandIn) -> None:
    with pytest.raises(OperatorRefusedError, match=r"känner inte till.*HTTP 404") as caught:
        gateway.termination_state(make_termination())
    assert WHAT in str(caught.value) and caught.value.status == 404


def test_termination_state_transient(gateway: HttpGateway, operator_api: OperatorStandIn) -> None:
    operator_api.fail_next(Fault.HTTP_500)
    with pytest.raises(OperatorTransientError, match=re.escape(WHAT)):
        gateway.termination_state(make_termination())


# --- e-mail to the ordering function ------------------------------------------------------------


def email_gateway() -> EmailGateway:
    return EmailGateway(
        Sender(
            "telefoni@sjobacka.example",
            "Telefoni – Sjöbacka kommun",
            signature="Med vänlig hälsning, Sjöbacka kommun",
        ),
        ORDERING,
        municipality="Sjöbacka kommun",
    )


def test_email_termination_is_queued_once(session: Session) -> None:
    gateway = email_gateway()
    termination = make_termination()
    receipt = gateway.terminate(session, termination)
    assert receipt.channel == "email"
    assert not receipt.duplicate and not receipt.confirmed
    assert receipt.operator_reference is None
    assert gateway.terminate(session, termination).duplicate
    assert gateway.termination_state(termination) is None

    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.business_key == termination.idempotency_key)
    ).all()
    assert len(rows) == 1
    mail = rows[0]
    assert mail.template == "operatorsuppsagning"
    assert mail.recipient == ORDERING
    assert mail.subject == (
        f"Uppsägning av abonnemang {NUMBER} från 2026-12-01 AVS-000012 – Åsa Öberg (E1012)"
    )
    for text in (mail.body_text, mail.body_html):
        for expected in (
            f"Sjöbacka kommun säger upp abonnemanget för numret {NUMBER}",
            "från och med 2026-12-01",
            "dagen efter",
            "2026-11-30",
            "AVS-000012",
            termination.idempotency_key,
            "Åsa Öberg",
            "E1012",
            "E0042",
            "§8.1",
            "Med vänlig hälsning, Sjöbacka kommun",
        ):
            assert expected in text, expected
        assert mask_personnummer(text) == text
    assert re.search(r"\n  Abonnemanget upphör från och med:\s+2026-12-01\n", mail.body_text)
    assert "personnummer" not in mail.body_text.lower()
    assert "mailto:telefoni@sjobacka.example?subject=Upps%C3%A4gning%20AVS-000012" in (
        mail.body_html
    )
    assert b"bestallning@sjobacka.example" in mail.raw


def test_email_termination_with_a_personnummer_is_never_queued(session: Session) -> None:
    before = session.scalar(select(func.count()).select_from(OutboxMessage))
    with pytest.raises(PersonnummerInMail):
        email_gateway().terminate(session, make_termination(employee_name="19850709-9805"))
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def test_an_order_and_a_termination_under_one_key_are_two_mails(session: Session) -> None:
    from tests.integration.test_operator_gateway import make_order

    gateway = email_gateway()
    order = make_order(idempotency_key="offboarding-12-terminate")
    assert not gateway.place_order(session, order).duplicate
    assert not gateway.terminate(session, make_termination()).duplicate
    templates = session.scalars(
        select(OutboxMessage.template).where(
            OutboxMessage.business_key == "offboarding-12-terminate"
        )
    ).all()
    assert sorted(templates) == ["operatorsbestallning", "operatorsuppsagning"]
