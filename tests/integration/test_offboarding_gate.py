"""The factory-reset gate (§8.1) is the register's own: plain SQL that goes around every flow
and step is refused too, on both engines, with the § in the error."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.offboarding import (
    ChecklistItem,
    Disposition,
    Offboarding,
    OffboardingItem,
    Owner,
    Source,
    Task,
)
from models.personnummer import PersonnummerVault
from models.register import Device, DeviceStatus, Employee, Subscription, SubscriptionKind
from tests import factories


def _phone(session: Session, holder: Employee, subscription: Subscription | None) -> Device:
    device = Device(
        municipality_id=holder.municipality_id,
        model_id=factories.phone_model(session).id,
        imei=f"35{factories.number()[-12:]}0",
        status=DeviceStatus.IN_USE,
        holder_id=holder.id,
        subscription_id=subscription.id if subscription else None,
    )
    session.add(device)
    session.flush()
    return device


def _leaving(
    session: Session, leaver: Employee, device: Device, *, attested: bool
) -> ChecklistItem:
    """The leaver's offboarding, with the phone's factory reset on the checklist."""
    off = Offboarding(
        municipality_id=leaver.municipality_id,
        employee_id=leaver.id,
        employment_start=leaver.employment_start,
        last_day=date(2027, 6, 30),
        source=Source.HR,
        started_by="HR1",
    )
    session.add(off)
    session.flush()
    item = OffboardingItem(
        offboarding_id=off.id,
        device_id=device.id,
        imei=device.imei,
        disposition=Disposition.HAND_OVER,
        disposition_by="HR",
    )
    session.add(item)
    session.flush()
    reset = ChecklistItem(
        offboarding_id=off.id,
        item_id=item.id,
        device_id=device.id,
        task=Task.FACTORY_RESET,
        rule="§8.1",
        owner=Owner.MANAGER,
        owner_id=leaver.manager_id,
        due_on=off.last_day,
        attested_by="E1" if attested else None,
        attested_at=datetime(2027, 6, 30, 12, tzinfo=UTC) if attested else None,
    )
    session.add(reset)
    session.flush()
    return reset


def _give(session: Session, device: Device, to: Employee | None) -> None:
    """Around everything: one UPDATE, as a script or a console would write it."""
    with session.begin_nested():
        session.execute(
            text("UPDATE device SET holder_id = :to WHERE id = :id"),
            {"to": to.id if to else None, "id": device.id},
        )


@pytest.fixture
def people(session: Session, vault: PersonnummerVault) -> tuple[Employee, Employee]:
    boss = factories.employee(session, vault)
    leaver = factories.employee(session, vault, manager_id=boss.id)
    successor = factories.employee(session, vault, manager_id=boss.id)
    return leaver, successor


def _refused(session: Session, device: Device, to: Employee | None) -> str:
    with pytest.raises(IntegrityError) as caught:
        _give(session, device, to)
    return str(caught.value.orig)


def test_a_phone_is_not_given_to_the_successor_before_its_factory_reset_is_attested(
    session: Session, people: tuple[Employee, Employee]
) -> None:
    leaver, successor = people
    device = _phone(session, leaver, factories.personal_subscription(session, leaver))
    reset = _leaving(session, leaver, device, attested=False)

    said = _refused(session, device, successor)

    assert "§8.1" in said and "fabriksåterställ" in said and "chefen ansvarar" in said
    session.expire_all()
    assert session.get(Device, device.id).holder_id == leaver.id  # type: ignore[union-attr]

    session.execute(
        text("UPDATE checklist_item SET attested_by = 'E1', attested_at = :at WHERE id = :id"),
        {"at": datetime(2027, 6, 30, 12, tzinfo=UTC), "id": reset.id},
    )
    _give(session, device, successor)
    session.expire_all()
    assert session.get(Device, device.id).holder_id == successor.id  # type: ignore[union-attr]


def test_a_personal_phone_goes_from_person_to_person_only_through_an_attested_reset(
    session: Session, people: tuple[Employee, Employee]
) -> None:
    leaver, successor = people
    device = _phone(session, leaver, factories.personal_subscription(session, leaver))

    assert "§8.1" in _refused(session, device, successor)  # no offboarding, no checklist at all


def test_a_phone_waiting_for_its_reset_goes_back_to_stock_but_to_nobody_from_there(
    session: Session, people: tuple[Employee, Employee]
) -> None:
    leaver, successor = people
    device = _phone(session, leaver, None)
    _leaving(session, leaver, device, attested=False)

    _give(session, device, None)  # returned: into stock is allowed
    assert "§8.1" in _refused(session, device, successor)


def test_a_shared_phone_changes_hands_without_a_reset(
    session: Session, people: tuple[Employee, Employee]
) -> None:
    leaver, successor = people
    shared = Subscription(
        municipality_id=leaver.municipality_id,
        number=factories.number(),
        kind=SubscriptionKind.NON_PERSONAL,
        designation="Hemtjänst jour",
    )
    session.add(shared)
    session.flush()
    device = _phone(session, leaver, shared)

    _give(session, device, successor)
    session.expire_all()
    assert session.get(Device, device.id).holder_id == successor.id  # type: ignore[union-attr]
