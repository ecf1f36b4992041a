"""Small builders for register rows in tests (fictional data only)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.onboarding import OnboardingOrder, OrderStatus
from models.outbox import OutboxMessage
from models.personnummer import Personnummer, PersonnummerVault, make_personnummer
from models.register import (
    CostCentre,
    Employee,
    Municipality,
    OrgUnit,
    PhoneModel,
    Subscription,
    SubscriptionKind,
    SubscriptionOption,
)
from telefoni.core.municipalities import MunicipalitySettings

_seq = itertools.count(1)


def fictional_personnummer(n: int | None = None) -> Personnummer:
    """A valid personnummer with a birth number in the test series 980–999."""
    n = next(_seq) if n is None else n
    # One number per n for the first half million: 20 birth numbers per day from 1930 on.
    birth = date(1930, 1, 1) + timedelta(days=(n // 20) % 27_375)
    return make_personnummer(birth, 980 + n % 20)


# The municipality of the settings' defaults (TELEFONI_MUNICIPALITY): the flows under test
# find what the builders make there unless told of another.
HOME = ("hallsberg", "Hallsbergs kommun")


def municipality(session: Session, code: str = HOME[0], name: str | None = None) -> int:
    """The id of the municipality ``code`` (made if the register does not have it yet)."""
    found = session.scalar(select(Municipality.id).where(Municipality.code == code))
    if found is not None:
        return found
    row = Municipality(code=code, name=name or (HOME[1] if code == HOME[0] else f"{code} kommun"))
    session.add(row)
    session.flush()
    return row.id


def unit_and_cost_centre(
    session: Session, municipality_id: int | None = None
) -> tuple[OrgUnit, CostCentre]:
    n = next(_seq)
    mid = municipality_id or municipality(session)
    unit = OrgUnit(code=f"U{n}", name=f"Enhet {n}", municipality_id=mid)
    cost_centre = CostCentre(code=f"K{n}", name=f"Kostnadsställe {n}", municipality_id=mid)
    session.add_all([unit, cost_centre])
    session.flush()
    return unit, cost_centre


def employee(
    session: Session,
    vault: PersonnummerVault,
    *,
    personnummer: Personnummer | None = None,
    **fields: Any,
) -> Employee:
    n = next(_seq)
    pnr = personnummer or fictional_personnummer(n)
    if "unit_id" not in fields:
        unit, cost_centre = unit_and_cost_centre(session, fields.get("municipality_id"))
        fields |= {"unit_id": unit.id, "cost_centre_id": cost_centre.id}
    if "municipality_id" not in fields:
        unit_row = session.get(OrgUnit, fields["unit_id"])
        assert unit_row is not None
        fields["municipality_id"] = unit_row.municipality_id
    person = Employee(
        **{
            "employee_number": f"E{n}",
            "first_name": "Astrid",
            "last_name": f"Testsson{n}",
            "email": f"astrid.testsson{n}@sjobacka.example",
            "employment_start": date(2020, 1, 1),
            "need_category": 2,
            "personnummer_encrypted": vault.encrypt(pnr),
            "personnummer_hash": vault.lookup_hash(pnr),
            "is_samordningsnummer": pnr.is_samordningsnummer,
            **fields,
        }
    )
    session.add(person)
    session.flush()
    return person


def phone_model(session: Session, **fields: Any) -> PhoneModel:
    n = next(_seq)
    model = PhoneModel(
        **{
            "name": f"Nordfon {n}",
            "manufacturer": "Nordfon",
            "is_standard": True,
            "is_smartphone": True,
            **fields,
        }
    )
    session.add(model)
    session.flush()
    return model


def number() -> str:
    return f"+4670{next(_seq):07d}"


def personal_subscription(session: Session, owner: Employee, **fields: Any) -> Subscription:
    sub = Subscription(
        **{
            "number": number(),
            "kind": SubscriptionKind.PERSONAL,
            "owner_id": owner.id,
            "municipality_id": owner.municipality_id,
            **fields,
        }
    )
    session.add(sub)
    session.flush()
    return sub


def subscription_option(session: Session, **fields: Any) -> SubscriptionOption:
    n = next(_seq)
    option = SubscriptionOption(
        **{
            "code": f"MOBIL{n}",
            "name": f"Mobil {n} GB",
            "includes_data": True,
            "monthly_fee_sek": Decimal("99.00"),
            **fields,
        }
    )
    session.add(option)
    session.flush()
    return option


@dataclass(frozen=True)
class Workplace:
    """A unit with a manager, a few staff, and a catalogue to order from (fictional)."""

    manager: str  # employee numbers
    staff: tuple[str, ...]
    other_manager: str
    standard_model: str
    rugged_model: str
    option: str
    municipality_id: int


def workplace(
    session: Session,
    vault: PersonnummerVault,
    *,
    staff: int = 3,
    municipality_id: int | None = None,
) -> Workplace:
    """``municipality_id``: where (default: the settings' municipality, `HOME`)."""
    unit, cost_centre = unit_and_cost_centre(session, municipality_id)
    where: dict[str, Any] = {"unit_id": unit.id, "cost_centre_id": cost_centre.id}
    boss = employee(session, vault, first_name="Maja", **where)
    other = employee(session, vault, first_name="Olof", **where)
    people = [employee(session, vault, manager_id=boss.id, **where) for _ in range(staff)]
    standard = phone_model(session, is_standard=True)
    rugged = phone_model(session, is_standard=False, is_rugged=True)
    option = subscription_option(session)
    return Workplace(
        manager=boss.employee_number,
        staff=tuple(p.employee_number for p in people),
        other_manager=other.employee_number,
        standard_model=standard.name,
        rugged_model=rugged.name,
        option=option.code,
        municipality_id=unit.municipality_id,
    )


def onboarding_order(
    session: Session, wp: Workplace, employee_number: str, **fields: Any
) -> OnboardingOrder:
    """An order for one of the workplace's staff, as a run left it (approved unless told)."""
    person = session.scalars(
        select(Employee).where(
            Employee.municipality_id == wp.municipality_id,
            Employee.employee_number == employee_number,
        )
    ).one()
    order = OnboardingOrder(
        **{
            "municipality_id": person.municipality_id,
            "request_key": uuid4().hex,
            "employee_id": person.id,
            "approver_id": person.manager_id,
            "need_category": 2,
            "phone_model_name": wp.standard_model,
            "headset": True,
            "subscription_option_code": wp.option,
            "data": True,
            "apps": [],
            "requested_by": wp.manager,
            "status": OrderStatus.APPROVED,
            "decided_by": wp.manager,
            **fields,
        }
    )
    session.add(order)
    session.flush()
    return order


def municipality_settings(code: str, name: str) -> MunicipalitySettings:
    """A municipality's settings, its addresses and HR export named after its code."""
    return MunicipalitySettings(
        code=code,
        name=name,
        mail_from=f"telefoni@{code}.example",
        contact_centre_email=f"kontaktcenter@{code}.example",
        ordering_function_email=f"bestallning@{code}.example",
        admin_email=f"it@{code}.example",
        hr_export_path=Path(f"/nowhere/{code}/hr-export.csv"),
    )


CODE_IN_MAIL = re.compile(r"Din engångskod: (\d{4} \d{4})")


def code_sent_to(
    session: Session, municipality_id: int, employee_number: str, about: str = ""
) -> str:
    """The latest one-time code mailed to this employee (in a mail about `about`, e.g. an
    order's reference), as they read it in the mail."""
    person = session.scalars(
        select(Employee).where(
            Employee.municipality_id == municipality_id,
            Employee.employee_number == employee_number,
        )
    ).one()
    for mail in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.recipient == person.email)
        .order_by(OutboxMessage.id.desc())
    ):
        if (found := CODE_IN_MAIL.search(mail.body_text)) and about in mail.body_text:
            return found.group(1)
    raise AssertionError(f"no code was mailed to {employee_number}")


def code_of(engine: Engine, municipality_id: int, employee_number: str, about: str = "") -> str:
    """`code_sent_to`, read in a session of its own."""
    with Session(engine) as session:
        return code_sent_to(session, municipality_id, employee_number, about)
