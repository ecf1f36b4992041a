"""Driving offboarding runs from a test as HR, the manager and the employee would."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.offboarding import Offboarding, OffboardingStatus
from models.offboarding_forms import OffboardingRequest
from models.ordering import luhn_digit
from models.outbox import OutboxMessage
from models.register import (
    Device,
    DeviceStatus,
    DirectoryEntry,
    Employee,
    SubscriptionKind,
    SubscriptionStatus,
)
from telefoni.core.settings import get_settings
from telefoni.core.vault import vault_from
from tests import factories
from tests.factories import Workplace
from tests.flows.onboarding_helpers import read_run


@dataclass(frozen=True)
class Leaver:
    """A workplace's first employee, who leaves, with what they hold; its second, who takes over."""

    wp: Workplace
    number: str  # the leaver's employee number
    successor: str
    numbers: tuple[str, ...]  # their personal subscriptions
    imeis: tuple[str, ...]  # the phone on each


def imei(n: int) -> str:
    body = f"35{n:012d}"
    return body + luhn_digit(body)


def leaver(engine: Engine, *, subscriptions: int = 1) -> Leaver:
    """A workplace whose first employee holds `subscriptions` personal numbers, each with a
    phone on it, each in the directory; both colleagues have directory entries."""
    with Session(engine) as session, session.begin():
        vault = vault_from(get_settings())
        wp = factories.workplace(session, vault, staff=2)
        people = {
            e.employee_number: e
            for e in session.scalars(select(Employee).where(Employee.employee_number.in_(wp.staff)))
        }
        who, successor = people[wp.staff[0]], people[wp.staff[1]]
        model = (
            session.scalar(select(Device.model_id).limit(1)) or factories.phone_model(session).id
        )
        numbers, imeis = [], []
        for i in range(subscriptions):
            sub = factories.personal_subscription(
                session,
                who,
                has_referral=True,
                referral_calendar_link=True,
                status=SubscriptionStatus.ACTIVE,
            )
            phone = Device(
                municipality_id=who.municipality_id,
                model_id=model,
                imei=imei(sub.id * 10 + i),
                status=DeviceStatus.IN_USE,
                holder_id=who.id,
                subscription_id=sub.id,
            )
            session.add(phone)
            numbers.append(sub.number)
            imeis.append(str(phone.imei))
        for person, phone_number in ((who, numbers[0] if numbers else None), (successor, None)):
            session.add(
                DirectoryEntry(
                    municipality_id=person.municipality_id,
                    kind=SubscriptionKind.PERSONAL,
                    employee_id=person.id,
                    name=person.name,
                    phone_number=phone_number,
                    email=person.email,
                    personnummer_hash=person.personnummer_hash,
                    unit_id=person.unit_id,
                    cost_centre_id=person.cost_centre_id,
                )
            )
    return Leaver(wp, wp.staff[0], wp.staff[1], tuple(numbers), tuple(imeis))


def request(who: Leaver, *, last_day: date | None = None, **fields: Any) -> OffboardingRequest:
    values: dict[str, Any] = {
        "employee_number": who.number,
        "last_day": last_day or date.today(),
        "started_by": "HR1",
    }
    return OffboardingRequest.model_validate(values | fields)


def offboardings(engine: Engine) -> list[Offboarding]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Offboarding).order_by(Offboarding.id)))


def wait_for_waiting(
    engine: Engine, status: OffboardingStatus, *, round: int = 1, timeout: float = 120
) -> str:
    """The run id once its offboardings are `status` and it waits for a person, on its
    `round`th wait or later (each answer to a form starts the next)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [o for o in offboardings(engine) if o.flow_run_id]
        if found and found[0].wait_round >= round:
            state = read_run(str(found[0].flow_run_id)).state
            if state is not None and state.is_final():
                raise AssertionError(f"the run ended instead of waiting: {state}")
            if state is not None and state.is_paused() and all(o.status is status for o in found):
                return str(found[0].flow_run_id)
        time.sleep(0.3)
    raise AssertionError(f"no run waiting with its offboardings {status}: {offboardings(engine)}")


def mails_to(engine: Engine, address: str, template: str | None = None) -> list[OutboxMessage]:
    with Session(engine) as session:
        stmt = select(OutboxMessage).where(OutboxMessage.recipient == address)
        if template is not None:
            stmt = stmt.where(OutboxMessage.template == template)
        return list(session.scalars(stmt.order_by(OutboxMessage.id)))
