"""Receiving orders: an unknown employee stops the run with nothing stored, named but never
by something that looks like a personnummer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.onboarding import OnboardingOrder
from models.onboarding_forms import OrderRequest
from models.personnummer import PersonnummerVault
from tasks.onboarding import UnknownEmployee
from tasks.onboarding.requested import receive_orders
from tests import factories
from tests.integration.test_onboarding_ordering import home_ctx


def test_an_unknown_employee_is_named_and_a_personnummer_is_not(
    session: Session, vault: PersonnummerVault
) -> None:
    wp = factories.workplace(session, vault, staff=1)
    ctx = home_ctx(session)
    stored = select(func.count()).select_from(OnboardingOrder)
    before = session.scalar(stored)  # the database is shared with tests that commit

    def request(number: str) -> OrderRequest:
        return OrderRequest(
            employee_number=number,
            need_category=2,
            phone_model=wp.standard_model,
            subscription_option=wp.option,
            requested_by=wp.manager,
        )

    first = receive_orders(session, [request(wp.staff[0])], batch_key=None, ctx=ctx)
    again = receive_orders(session, [request(wp.staff[0])], batch_key=None, ctx=ctx)
    assert (first.new, again.new, again.ids) == (1, 0, first.ids)
    typed = [request(wp.staff[0]), request("A999998"), request("19850709-9805")]
    with pytest.raises(UnknownEmployee) as caught:
        receive_orders(session, typed, batch_key="Skolstart", ctx=ctx)
    said = str(caught.value)
    assert "A999998" in said and "(ett nummer som liknar ett personnummer)" in said
    assert "9805" not in said
    assert session.scalar(stored) == (before or 0) + 1
