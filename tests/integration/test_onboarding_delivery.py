"""Deliveries typed into the form: one order at a time, named, and never one number twice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.onboarding import OnboardingOrder, OrderStatus
from models.onboarding_forms import DeliveryInput
from models.personnummer import PersonnummerVault
from models.register import Employee
from tasks.onboarding import collect_deliveries, record_delivery
from tasks.operator import EmailGateway
from tests import factories
from tests.flows.onboarding_helpers import delivery
from tests.integration.test_onboarding_ordering import CTX, home_ctx


def ordered_batch(session: Session, vault: PersonnummerVault, count: int) -> list[int]:
    """`count` orders of one batch, as the ordering step leaves them."""
    wp = factories.workplace(session, vault, staff=count)
    return [
        factories.onboarding_order(
            session, wp, number, status=OrderStatus.ORDERED, batch_key="Skolstart"
        ).id
        for number in wp.staff
    ]


def gateway() -> EmailGateway:
    """The e-mail channel: it cannot tell deliveries; a person types them in."""
    return EmailGateway(CTX.sender, "bestallning@hallsberg.example")


def test_the_form_asks_for_one_order_at_a_time_and_names_it(
    session: Session, vault: PersonnummerVault
) -> None:
    ids = ordered_batch(session, vault, 2)
    ctx = home_ctx(session)
    first, second = (session.get(OnboardingOrder, i) for i in ids)
    assert first is not None and second is not None
    name = session.get(Employee, first.employee_id).name  # type: ignore[union-attr]

    wait = collect_deliveries(session, ids, gateway(), ctx=ctx)
    assert wait.waiting and wait.order_id == first.id
    assert first.reference.lower() in wait.key  # a wait of its own per order
    assert f"## Leverans för {first.reference} – {name}" in wait.description
    assert "2 telefoner i beställningen väntar" in wait.description
    assert (
        record_delivery(session, ids, DeliveryInput(**delivery(1)), ctx=ctx, order_id=wait.order_id)
        is None
    )

    again = collect_deliveries(session, ids, gateway(), ctx=ctx)
    assert again.order_id == second.id and again.key != wait.key
    assert f"## Leverans för {second.reference}" in again.description
    assert (first.status, first.number) == (OrderStatus.DELIVERED, delivery(1)["number"])


def test_two_orders_of_a_batch_never_get_the_same_number(
    session: Session, vault: PersonnummerVault
) -> None:
    ids = ordered_batch(session, vault, 2)
    ctx = home_ctx(session)
    first, second = ids
    assert (
        record_delivery(session, ids, DeliveryInput(**delivery(5)), ctx=ctx, order_id=first) is None
    )

    same_number = {**delivery(6), "number": delivery(5)["number"]}
    said = record_delivery(session, ids, DeliveryInput(**same_number), ctx=ctx, order_id=second)
    reference = session.get(OnboardingOrder, first).reference  # type: ignore[union-attr]
    assert said == (
        f"Leveransen för {session.get(OnboardingOrder, second).reference} registrerades inte: "  # type: ignore[union-attr]
        f"numret {delivery(5)['number']} är redan registrerat för {reference}."
    )
    same_sim = {**delivery(7), "sim": delivery(5)["sim"]}
    said = record_delivery(session, ids, DeliveryInput(**same_sim), ctx=ctx, order_id=second)
    assert said is not None and f"SIM-kortet {delivery(5)['sim']}" in said
    statuses = session.scalars(
        select(OnboardingOrder.status)
        .where(OnboardingOrder.id.in_(ids))
        .order_by(OnboardingOrder.id)
    ).all()
    assert statuses == [OrderStatus.DELIVERED, OrderStatus.ORDERED]

    assert (
        record_delivery(session, ids, DeliveryInput(**delivery(8)), ctx=ctx, order_id=second)
        is None
    )


def test_an_empty_form_only_looks_again_and_an_order_delivered_meanwhile_is_told(
    session: Session, vault: PersonnummerVault
) -> None:
    ids = ordered_batch(session, vault, 2)
    ctx = home_ctx(session)
    first = ids[0]
    assert record_delivery(session, ids, DeliveryInput(), ctx=ctx, order_id=first) is None
    assert session.get(OnboardingOrder, first).status is OrderStatus.ORDERED  # type: ignore[union-attr]

    assert (
        record_delivery(session, ids, DeliveryInput(**delivery(9)), ctx=ctx, order_id=first) is None
    )
    said = record_delivery(session, ids, DeliveryInput(**delivery(10)), ctx=ctx, order_id=first)
    assert said is not None and "väntar inte längre på leverans" in said
