"""The operator gateway against a real HTTP stand-in and a real outbox (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.ordering import Delivery, OperatorOrder
from models.outbox import OutboxMessage, PersonnummerInMail, Sender
from tasks.operator import (
    EmailGateway,
    HttpGateway,
    OperatorRefusedError,
    OperatorTransientError,
    gateway_from,
    is_transient,
    retry_after_seconds,
)
from telefoni.core.settings import Settings, SettingsError
from tests.integration.operator_stand_in import ALL_FAULTS, Fault, OperatorStandIn
from tests.integration.test_personnummer_privacy import PEOPLE, written_forms

TIMEOUT = 0.5  # the client's; the stand-in stalls longer
ORDERING = "bestallning@sjobacka.example"


def make_order(n: int = 1, **changes: object) -> OperatorOrder:
    order = OperatorOrder(
        idempotency_key=f"onboarding-{n}-order",
        reference=f"TEL-{n:06d}",
        employee_number=f"E{1000 + n}",
        employee_name="Åsa Öberg",
        email="asa.oberg@sjobacka.example",
        unit="Socialtjänst (SOC)",
        cost_centre="4410",
        need_category=2,
        phone_model="Samsung Galaxy A56",
        deviation_reason="Synnedsättning: större skärm behövs",
        headset=True,
        subscription_option="BAS-DATA",
        subscription_name="Bas med mobildata",
        data=True,
        referral=True,
        referral_calendar=True,
        apps=("Teckenspråkstolk", "Skanner Pro"),
        wanted_by=date(2025, 9, 1),
        requested_by="Admin Adminsson",
        approved_by="Chef Chefsson",
        replacement=False,
    )
    return replace(order, **changes)  # type: ignore[arg-type]


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


# --- HTTP: placing orders ----------------------------------------------------------------------


def test_new_order_is_created(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    order = make_order()
    receipt = gateway.place_order(no_db, order)
    assert receipt.channel == "http" and not receipt.duplicate
    assert receipt.operator_reference == operator_api.operator_reference(order.idempotency_key)
    assert operator_api.orders == {order.idempotency_key: order.payload()}
    assert operator_api.received_count(order.idempotency_key) == 1


def test_same_key_again_is_a_duplicate(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    order = make_order()
    first = gateway.place_order(no_db, order)
    again = gateway.place_order(no_db, order)
    assert again.duplicate and not first.duplicate
    assert again.operator_reference == first.operator_reference
    assert len(operator_api.orders) == 1
    assert operator_api.received_count(order.idempotency_key) == 2


@pytest.mark.parametrize(
    "fault", [Fault.HTTP_500, Fault.TIMEOUT_BEFORE, Fault.RESET, Fault.HTTP_429]
)
def test_transient_faults(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session, fault: Fault
) -> None:
    order = make_order()
    operator_api.retry_after = "2"
    operator_api.fail_next(fault)
    with pytest.raises(OperatorTransientError) as caught:
        gateway.place_order(no_db, order)
    assert is_transient(caught.value)
    assert order.reference in str(caught.value)
    assert order.employee_name not in str(caught.value)
    assert caught.value.retry_after == (2.0 if fault is Fault.HTTP_429 else None)
    assert operator_api.orders == {}  # nothing was recorded
    assert not gateway.place_order(no_db, order).duplicate  # the retry places it


@pytest.mark.parametrize("fault", [Fault.TIMEOUT_AFTER, Fault.RESET_AFTER])
def test_lost_answer_then_retry_finds_the_order(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session, fault: Fault
) -> None:
    order = make_order()
    operator_api.fail_next(fault)
    with pytest.raises(OperatorTransientError):
        gateway.place_order(no_db, order)
    assert list(operator_api.orders) == [order.idempotency_key]  # it did arrive
    receipt = gateway.place_order(no_db, order)
    assert receipt.duplicate
    assert receipt.operator_reference == operator_api.operator_reference(order.idempotency_key)
    assert len(operator_api.orders) == 1


def test_retry_after_as_http_date() -> None:
    now = datetime(2025, 9, 1, 8, 0, 0, tzinfo=UTC)  # the clock, moved by hand
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert later == "Mon, 01 Sep 2025 08:00:30 GMT"
    assert retry_after_seconds(later, now=now) == 30.0
    assert retry_after_seconds(later, now=now + timedelta(seconds=29)) == 1.0
    assert retry_after_seconds(later, now=now + timedelta(minutes=5)) == 0.0  # already past
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-3") == 0.0


@pytest.mark.parametrize(
    ("status", "reason"),
    [(400, "felaktig begäran"), (422, "okänd abonnemangskod"), (409, "konflikt")],
)
def test_refusals_are_not_transient(
    gateway: HttpGateway,
    operator_api: OperatorStandIn,
    no_db: Session,
    status: int,
    reason: str,
) -> None:
    order = make_order()
    operator_api.refuse_next(status, reason)
    with pytest.raises(OperatorRefusedError) as caught:
        gateway.place_order(no_db, order)
    assert not is_transient(caught.value)
    assert caught.value.status == status
    message = str(caught.value)
    assert f"HTTP {status}" in message and reason in message and order.reference in message
    assert order.employee_name not in message


def test_invalid_order_refused_by_the_operator(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    with pytest.raises(OperatorRefusedError, match=r"HTTP 422.*behovskategori"):
        gateway.place_order(no_db, make_order(need_category=7))
    assert operator_api.orders == {}


def test_same_key_with_another_order_is_refused(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    gateway.place_order(no_db, make_order())
    with pytest.raises(OperatorRefusedError, match=r"HTTP 422.*annan beställning"):
        gateway.place_order(no_db, make_order(phone_model="iPhone 16"))


def test_operator_reason_never_shows_a_personnummer(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    operator_api.refuse_next(400, "personen 19850709-9805 saknas")
    with pytest.raises(OperatorRefusedError) as caught:
        gateway.place_order(no_db, make_order())
    assert "9805" not in str(caught.value) and "19850709-****" in str(caught.value)


def test_order_with_a_personnummer_is_not_sent(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    with pytest.raises(OperatorRefusedError) as caught:
        gateway.place_order(no_db, make_order(deviation_reason="gäller 19850709-9805"))
    assert "9805" not in str(caught.value)
    for p in PEOPLE.values():
        for form in written_forms(p):
            with pytest.raises(OperatorRefusedError, match="innehåller ett personnummer"):
                gateway.place_order(no_db, make_order(deviation_reason=f"gäller {form}"))
    assert operator_api.calls == 0


def test_bearer_token(operator_api: OperatorStandIn, no_db: Session) -> None:
    operator_api.token = "ratt-token"
    order = make_order()
    with HttpGateway(operator_api.url, "wrong-token-x9", TIMEOUT) as wrong:
        with pytest.raises(OperatorRefusedError, match="HTTP 401") as caught:
            wrong.place_order(no_db, order)
        assert not is_transient(caught.value)
        assert "wrong-token-x9" not in str(caught.value)
    with pytest.raises(SettingsError, match="ASCII"):
        HttpGateway(operator_api.url, "rätt-token", TIMEOUT)
    with (
        HttpGateway(operator_api.url, None, TIMEOUT) as missing,
        pytest.raises(OperatorRefusedError, match="TELEFONI_OPERATOR_API_TOKEN"),
    ):
        missing.place_order(no_db, order)
    with HttpGateway(operator_api.url, "ratt-token", TIMEOUT) as right:
        assert not right.place_order(no_db, order).duplicate


def test_stand_in_requires_the_key(operator_api: OperatorStandIn) -> None:
    response = httpx.post(f"{operator_api.url}/orders", json=make_order().payload())
    assert response.status_code == 400
    assert operator_api.orders == {}


# --- HTTP: delivery ----------------------------------------------------------------------------


def test_delivery_status_pending_then_delivered(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    order = make_order()
    gateway.place_order(no_db, order)
    assert gateway.delivery_status(order).state == "pending"
    assert gateway.delivery_status(order).delivery is None
    operator_api.deliver(
        order.idempotency_key, number="+46701740605", imei="490154203237518", sim=""
    )
    status = gateway.delivery_status(order)
    assert status.state == "delivered" and status.delivery is not None
    assert status.delivery.number == "+46701740605"
    assert status.delivery.imei == "490154203237518"
    assert (
        Delivery.parse(
            number=status.delivery.number, imei=status.delivery.imei, sim=status.delivery.sim
        )
        == status.delivery
    )


def test_automatic_delivery_and_cancel(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    operator_api.auto_deliver_after = 1
    first, second = make_order(1), make_order(2)
    gateway.place_order(no_db, first)
    gateway.place_order(no_db, second)
    operator_api.cancel(second.idempotency_key)
    assert gateway.delivery_status(first).state == "pending"
    delivered = gateway.delivery_status(first)
    assert delivered.state == "delivered" and delivered.delivery is not None
    assert gateway.delivery_status(second).state == "cancelled"


def test_unknown_order_and_bad_delivery(
    gateway: HttpGateway, operator_api: OperatorStandIn, no_db: Session
) -> None:
    order = make_order()
    with pytest.raises(OperatorRefusedError, match="HTTP 404"):
        gateway.delivery_status(order)
    gateway.place_order(no_db, order)
    operator_api.deliver(order.idempotency_key, imei="123456789012345")
    with pytest.raises(OperatorRefusedError, match="IMEI"):
        gateway.delivery_status(order)


def test_delivery_status_transient(gateway: HttpGateway, operator_api: OperatorStandIn) -> None:
    operator_api.fail_next(Fault.HTTP_500)
    with pytest.raises(OperatorTransientError):
        gateway.delivery_status(make_order())


# --- HTTP: many orders through an unreliable operator -------------------------------------------


@pytest.mark.slow
def test_two_hundred_orders_with_faults_each_stored_once(
    operator_api: OperatorStandIn, no_db: Session
) -> None:
    timeout = 0.2
    operator_api.stall_seconds = 0.6
    operator_api.configure(fault_rate=0.3, faults=ALL_FAULTS, seed=20250901)
    orders = [make_order(n) for n in range(1, 201)]
    receipts = {}
    transient = 0
    with HttpGateway(operator_api.url, None, timeout) as gateway:
        for order in orders:
            for _attempt in range(50):
                try:
                    receipts[order.idempotency_key] = gateway.place_order(no_db, order)
                    break
                except OperatorTransientError as exc:
                    assert is_transient(exc)
                    transient += 1
            else:
                pytest.fail(f"{order.reference} never accepted")

    assert len(operator_api.orders) == 200
    assert operator_api.orders == {o.idempotency_key: o.payload() for o in orders}
    posts = sum(operator_api.received_count(o.idempotency_key) for o in orders)
    assert posts == 200 + transient
    assert transient > 30  # the faults did happen ...
    assert set(operator_api.faults) == set(ALL_FAULTS)  # ... of every kind
    references = {r.operator_reference for r in receipts.values()}
    assert len(references) == 200
    for key, receipt in receipts.items():
        assert receipt.operator_reference == operator_api.operator_reference(key)
    # An answer lost after the order arrived shows up as a duplicate on the retry.
    assert any(r.duplicate for r in receipts.values())


# --- e-mail to the ordering function ------------------------------------------------------------


def email_gateway() -> EmailGateway:
    return EmailGateway(
        Sender("telefoni@sjobacka.example", "Telefoni – Sjöbacka kommun"),
        ORDERING,
        municipality="Sjöbacka kommun",
    )


def test_email_order_is_queued_once(session: Session) -> None:
    gateway = email_gateway()
    order = make_order(123)
    receipt = gateway.place_order(session, order)
    assert receipt.channel == "email" and not receipt.duplicate
    assert receipt.operator_reference is None
    again = gateway.place_order(session, order)
    assert again.duplicate

    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.business_key == order.idempotency_key)
    ).all()
    assert len(rows) == 1
    mail = rows[0]
    assert mail.template == "operatorsbestallning"
    assert mail.recipient == ORDERING
    assert "TEL-000123" in mail.subject and "mobiltelefon" in mail.subject
    for text in (mail.body_text, mail.body_html):
        for expected in (
            "TEL-000123",
            order.idempotency_key,
            "Åsa Öberg",
            "E1123",
            "asa.oberg@sjobacka.example",
            "Socialtjänst (SOC)",
            "Kostnadsställe",
            "4410",
            "Behovskategori",
            "Samsung Galaxy A56",
            "Synnedsättning: större skärm behövs",
            "Headset",
            "Bas med mobildata (BAS-DATA)",
            "Mobildata",
            "Hänvisning",
            "Teckenspråkstolk, Skanner Pro",
            "2025-09-01",
            "Admin Adminsson",
            "Chef Chefsson",
            "§6.1",
            "IMEI",
            "SIM-kortsnummer",
        ):
            assert expected in text, expected
    assert "personnummer" not in mail.body_text.lower()
    assert b"bestallning@sjobacka.example" in mail.raw


def test_email_order_with_a_personnummer_is_never_queued(session: Session) -> None:
    before = session.scalar(select(func.count()).select_from(OutboxMessage))
    with pytest.raises(PersonnummerInMail):
        email_gateway().place_order(session, make_order(deviation_reason="19850709-9805"))
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def test_email_gateway_cannot_tell_delivery() -> None:
    assert email_gateway().delivery_status(make_order()) is None


# --- chosen by settings -------------------------------------------------------------------------


def test_gateway_from_settings(operator_api: OperatorStandIn) -> None:
    with closing(gateway_from(Settings(operator_gateway="email"))) as gw:
        assert isinstance(gw, EmailGateway)
        assert gw.ordering_address == "bestallning@hallsberg.example"
    settings = Settings(
        operator_gateway="http",
        operator_api_url=operator_api.url + "/",
        operator_api_token=SecretStr("tok"),
        operator_timeout_seconds=TIMEOUT,
    )
    operator_api.token = "tok"
    with closing(gateway_from(settings)) as gw:
        assert isinstance(gw, HttpGateway)
        assert not gw.place_order(Session(), make_order()).duplicate
    with pytest.raises(SettingsError, match="TELEFONI_OPERATOR_API_URL"):
        gateway_from(Settings(operator_gateway="http"))


def test_each_municipality_orders_through_its_own_ordering_function_signed_by_it(
    session: Session, tmp_path: Path
) -> None:
    from tasks.mail import from_header
    from tests.flows.onboarding_helpers import municipalities_file

    settings = Settings(operator_gateway="email", municipalities_file=municipalities_file(tmp_path))
    for m in settings.municipalities:
        order = replace(make_order(), idempotency_key=f"telefoni-onboarding-{m.code}")
        with closing(gateway_from(settings, m)) as gw:
            gw.place_order(session, order)
        mail = session.scalars(
            select(OutboxMessage).where(OutboxMessage.business_key == order.idempotency_key)
        ).one()
        assert mail.recipient == m.ordering_function_email
        assert from_header(mail.raw) == (f"Telefoni – {m.name}", str(m.mail_from))
        assert m.signature
        for text in (mail.body_text, mail.body_html):
            assert m.signature in text
            assert f"{m.name} beställer en mobiltelefon" in text
        assert re.search(rf"\n  Kommun:\s+{m.name}\n", mail.body_text)
        assert f'>Kommun</th><td style="padding: 2px 0;">{m.name}</td>' in mail.body_html
        others = [o.name for o in settings.municipalities if o != m]
        assert not any(name in mail.body_text for name in others)


def test_nobody_listening_is_transient(no_db: Session) -> None:
    with OperatorStandIn() as api:  # started and stopped: its port is now free
        url = api.url
    with (
        HttpGateway(url, None, TIMEOUT) as gateway,
        pytest.raises(OperatorTransientError, match="Förbindelsen"),
    ):
        gateway.place_order(no_db, make_order())
