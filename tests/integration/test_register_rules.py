"""The rules the database itself enforces, refused with a clear error on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.orm import Session

from models.personnummer import PersonnummerVault
from models.register import (
    CostCentre,
    Device,
    DirectoryEntry,
    Employee,
    OrgUnit,
    Subscription,
    SubscriptionKind,
)
from telefoni.core.db import RegisterRuleViolation
from tests import factories


@contextmanager
def refused(session: Session, constraint: str, *words: str) -> Iterator[None]:
    """Expect the database to refuse the flush inside, naming `constraint` in plain words."""
    with pytest.raises(RegisterRuleViolation) as info, session.begin_nested():
        yield
        session.flush()
    error = info.value
    assert error.constraint == constraint
    message = str(error)
    assert message.startswith("Registrets regel bröts")
    assert constraint in message
    for word in words:
        assert word in message


@pytest.fixture
def owner(session: Session, vault: PersonnummerVault) -> Employee:
    return factories.employee(session, vault)


@pytest.fixture
def place(session: Session) -> tuple[OrgUnit, CostCentre]:
    return factories.unit_and_cost_centre(session)


def test_a_number_belongs_to_one_subscription(session: Session, owner: Employee) -> None:
    first = factories.personal_subscription(session, owner)
    with refused(session, "uq_subscription_number", "telefonnummer"):
        session.add(
            Subscription(
                municipality_id=factories.municipality(session),
                number=first.number,
                kind=SubscriptionKind.NON_PERSONAL,
                designation="Reception",
            )
        )


def test_an_imei_belongs_to_one_device(session: Session) -> None:
    model = factories.phone_model(session)
    session.add(
        Device(
            municipality_id=factories.municipality(session),
            model_id=model.id,
            imei="356938035643809",
        )
    )
    session.flush()
    with refused(session, "uq_device_imei", "IMEI"):
        session.add(
            Device(
                municipality_id=factories.municipality(session),
                model_id=model.id,
                imei="356938035643809",
            )
        )


def test_imei_has_fifteen_digits(session: Session) -> None:
    model = factories.phone_model(session)
    with refused(session, "ck_device_imei_length", "15 siffror"):
        session.add(
            Device(
                municipality_id=factories.municipality(session),
                model_id=model.id,
                imei="3569380356",
            )
        )


@pytest.mark.parametrize(
    ("kind", "with_owner", "designation"),
    [
        pytest.param(SubscriptionKind.PERSONAL, False, None, id="personal-without-owner"),
        pytest.param(SubscriptionKind.PERSONAL, True, "Reception", id="personal-with-designation"),
        pytest.param(SubscriptionKind.NON_PERSONAL, False, None, id="non-personal-no-designation"),
        pytest.param(
            SubscriptionKind.NON_PERSONAL, True, "Reception", id="non-personal-with-owner"
        ),
    ],
)
def test_personal_has_owner_and_non_personal_has_designation(
    session: Session,
    owner: Employee,
    kind: SubscriptionKind,
    with_owner: bool,
    designation: str | None,
) -> None:
    with refused(session, "ck_subscription_personal_owner_designation", "§3.1", "benämning"):
        session.add(
            Subscription(
                municipality_id=factories.municipality(session),
                number=factories.number(),
                kind=kind,
                owner_id=owner.id if with_owner else None,
                designation=designation,
            )
        )


def test_both_kinds_are_accepted_when_well_formed(session: Session, owner: Employee) -> None:
    factories.personal_subscription(session, owner)
    session.add(
        Subscription(
            municipality_id=factories.municipality(session),
            number=factories.number(),
            kind=SubscriptionKind.NON_PERSONAL,
            designation="Kundcenter Bygglov",
            phone_hours="mån–fre 08.00–12.00",
        )
    )
    session.flush()


def test_phone_hours_never_on_a_personal_subscription(session: Session, owner: Employee) -> None:
    with refused(session, "ck_subscription_phone_hours_non_personal", "§5.1.1", "telefontid"):
        factories.personal_subscription(session, owner, phone_hours="mån–fre 08.00–16.00")


def test_number_must_be_e164(session: Session) -> None:
    with refused(session, "ck_subscription_number_e164", "E.164"):
        session.add(
            Subscription(
                municipality_id=factories.municipality(session),
                number="070-1234567",
                kind=SubscriptionKind.NON_PERSONAL,
                designation="Reception",
            )
        )


def test_non_personal_directory_entry_has_no_personal_fields(
    session: Session, place: tuple[OrgUnit, CostCentre], owner: Employee
) -> None:
    unit, cost_centre = place
    group = Subscription(
        municipality_id=unit.municipality_id,
        number=factories.number(),
        kind=SubscriptionKind.NON_PERSONAL,
        designation="Växeln",
    )
    session.add(group)
    session.flush()
    with refused(session, "ck_directory_entry_personal_fields", "§3.1", "personnummer"):
        session.add(
            DirectoryEntry(
                municipality_id=unit.municipality_id,
                kind=SubscriptionKind.NON_PERSONAL,
                subscription_id=group.id,
                designation="Växeln",
                phone_number=group.number,
                user_id="abcd1234",  # a user id belongs to a person, not to a designation
                unit_id=unit.id,
                cost_centre_id=cost_centre.id,
            )
        )


def test_personal_directory_entry_needs_a_name(
    session: Session, place: tuple[OrgUnit, CostCentre], owner: Employee
) -> None:
    unit, cost_centre = place
    with refused(session, "ck_directory_entry_personal_fields", "§3.1"):
        session.add(
            DirectoryEntry(
                municipality_id=unit.municipality_id,
                kind=SubscriptionKind.PERSONAL,
                employee_id=owner.id,
                designation="Reception",
                personnummer_hash=owner.personnummer_hash,
                unit_id=unit.id,
                cost_centre_id=cost_centre.id,
            )
        )


def test_a_person_is_registered_once(
    session: Session, vault: PersonnummerVault, owner: Employee
) -> None:
    same_person = factories.fictional_personnummer(999_999)
    factories.employee(session, vault, personnummer=same_person)
    with refused(session, "uq_employee_municipality_id_personnummer_hash", "personnummer"):
        factories.employee(session, vault, personnummer=same_person)


def test_need_category_is_one_two_or_three(session: Session, vault: PersonnummerVault) -> None:
    with refused(session, "ck_employee_need_category", "§4.1"):
        factories.employee(session, vault, need_category=4)


def test_rule_error_never_shows_the_row(session: Session, vault: PersonnummerVault) -> None:
    pnr = factories.fictional_personnummer(424_242)
    factories.employee(session, vault, personnummer=pnr, last_name="Hemligsson")
    with pytest.raises(RegisterRuleViolation) as info, session.begin_nested():
        factories.employee(session, vault, personnummer=pnr, last_name="Hemligsson")
    text = str(info.value) + repr(info.value) + str(info.value.__cause__ or "")
    assert "Hemligsson" not in text
    assert pnr.digits[2:] not in text


def test_an_employee_number_is_unique_within_a_municipality_only(
    session: Session, vault: PersonnummerVault
) -> None:
    laxa = factories.municipality(session, "laxa", "Laxå kommun")
    here = factories.employee(session, vault, employee_number="A000123")
    there = factories.employee(session, vault, employee_number="A000123", municipality_id=laxa)
    assert here.id != there.id and here.municipality_id != there.municipality_id
    with refused(
        session, "uq_employee_municipality_id_employee_number", "anställningsnummer", "kommun"
    ):
        factories.employee(session, vault, employee_number="A000123", municipality_id=laxa)


def test_one_person_may_work_for_two_municipalities(
    session: Session, vault: PersonnummerVault
) -> None:
    laxa = factories.municipality(session, "laxa", "Laxå kommun")
    pnr = factories.fictional_personnummer(777_777)
    factories.employee(session, vault, personnummer=pnr)
    factories.employee(session, vault, personnummer=pnr, municipality_id=laxa)
    session.flush()


def test_unit_codes_are_each_municipalitys_own(session: Session) -> None:
    laxa = factories.municipality(session, "laxa", "Laxå kommun")
    home = factories.municipality(session)
    session.add_all(
        [OrgUnit(code="U-SOC", name="Socialtjänst", municipality_id=m) for m in (home, laxa)]
    )
    session.flush()
    with refused(session, "uq_org_unit_municipality_id_code", "organisationsenhet", "kommun"):
        session.add(OrgUnit(code="U-SOC", name="Socialtjänst igen", municipality_id=laxa))


def test_a_number_is_unique_across_municipalities(
    session: Session, vault: PersonnummerVault, owner: Employee
) -> None:
    laxa = factories.municipality(session, "laxa", "Laxå kommun")
    first = factories.personal_subscription(session, owner)
    other = factories.employee(session, vault, municipality_id=laxa)
    with refused(session, "uq_subscription_number", "telefonnummer"):
        factories.personal_subscription(session, other, number=first.number)
