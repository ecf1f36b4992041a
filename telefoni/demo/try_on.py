"""Whom a newcomer can try each flow on, picked from a municipality's register: someone to
order a phone for, the manager who approves it, a deputy who may approve instead, and
someone who has a phone (for the flows that end or replace one).

The same register gives the same names: each pick is the first by a fixed order. Names and
employee numbers only, never a personnummer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from models.onboarding import OnboardingOrder
from models.register import (
    Device,
    DeviceStatus,
    Employee,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)

#: The need categories that have a personal phone (§4.1); category 3 has none.
_WITH_PHONE = (1, 2)


@dataclass(frozen=True)
class Person:
    """Someone to try a flow on, as the forms and the CLI ask for them."""

    name: str
    employee_number: str
    unit: str
    number: str | None = None  # their mobile number, if they have one

    def __str__(self) -> str:
        said = f"{self.name} ({self.employee_number}), {self.unit}"
        return f"{said}, {self.number}" if self.number else said


@dataclass(frozen=True)
class NamesToTry:
    """One municipality's names to try the flows on; None where the register has no one."""

    municipality: str
    without_phone: Person | None  # order a phone for them (onboarding)
    manager: Person | None  # their manager, who approves the order
    deputy: Person | None  # a configured deputy, who may approve instead
    with_phone: Person | None  # has a phone: offboarding, a lost phone

    def lines(self, code: str) -> list[str]:
        """What `telefoni up` prints of them, in Swedish; ``code``: the municipality's code."""
        lines = [f"Att prova på i {self.municipality}:"]
        if self.without_phone is not None:
            lines.append(f"  Beställ en telefon åt (ny, har ingen): {self.without_phone}")
        if self.manager is not None:
            lines.append(f"  Chefen som godkänner beställningen: {self.manager}")
        lines.append(
            f"  Ersättare som också får godkänna: {self.deputy}"
            if self.deputy is not None
            else "  Ersättare som också får godkänna: ingen utsedd (approval_deputies i "
            "kommunfilen)"
        )
        if self.with_phone is not None:
            lines.append(f"  Har telefon (för avslut och borttappad telefon): {self.with_phone}")
        lines.append(f"  Katalogen (modeller och abonnemang): telefoni catalogue --kommun {code}")
        return lines


def names_to_try(
    session: Session,
    municipality_id: int,
    *,
    municipality: str,
    deputies: Collection[str] = (),
    today: date,
) -> NamesToTry:
    """The municipality's names to try each flow on (``deputies``: its approval deputies'
    employee numbers, as configured; ``today``: who is still employed)."""
    newcomer = _without_phone(session, municipality_id, today)
    manager = None
    if newcomer is not None and newcomer.manager is not None:
        manager = _person(newcomer.manager)
    deputy = None
    if deputies:
        found = session.scalars(
            select(Employee)
            .where(
                Employee.municipality_id == municipality_id,
                Employee.employee_number.in_(sorted(deputies)),
                _employed(Employee, today),
            )
            .order_by(Employee.employee_number, Employee.id)
            .limit(1)
        ).first()
        deputy = _person(found) if found is not None else None
    return NamesToTry(
        municipality=municipality,
        without_phone=_person(newcomer) if newcomer is not None else None,
        manager=manager,
        deputy=deputy,
        with_phone=_with_phone(session, municipality_id, today),
    )


def _person(employee: Employee, number: str | None = None) -> Person:
    return Person(employee.name, employee.employee_number, employee.unit.name, number)


def _employed(who: type[Employee], today: date) -> ColumnElement[bool]:
    return and_(
        who.left_at.is_(None), or_(who.employment_end.is_(None), who.employment_end >= today)
    )


def _without_phone(session: Session, municipality_id: int, today: date) -> Employee | None:
    """The newest hire who needs a phone (category 1 or 2) and has none, no order for one,
    an address and an employed manager with an address: the order can go all the way."""
    boss = aliased(Employee)
    holds = exists().where(Device.holder_id == Employee.id)
    owns = exists().where(
        Subscription.owner_id == Employee.id, Subscription.kind == SubscriptionKind.PERSONAL
    )
    ordered = exists().where(OnboardingOrder.employee_id == Employee.id)
    return session.scalars(
        select(Employee)
        .join(boss, Employee.manager_id == boss.id)
        .where(
            Employee.municipality_id == municipality_id,
            Employee.need_category.in_(_WITH_PHONE),
            Employee.email.is_not(None),
            _employed(Employee, today),
            boss.email.is_not(None),
            _employed(boss, today),
            ~holds,
            ~owns,
            ~ordered,
        )
        .order_by(Employee.employment_start.desc(), Employee.id)
        .limit(1)
    ).first()


def _with_phone(session: Session, municipality_id: int, today: date) -> Person | None:
    """The first employee (by id) with a phone in use on a personal subscription of theirs,
    who manages no one (their leaving leaves nobody without a manager)."""
    report = aliased(Employee)
    manages = exists().where(report.manager_id == Employee.id)
    found = session.execute(
        select(Employee, Subscription.number)
        .join(Device, Device.holder_id == Employee.id)
        .join(Subscription, Subscription.id == Device.subscription_id)
        .where(
            Employee.municipality_id == municipality_id,
            Employee.manager_id.is_not(None),
            _employed(Employee, today),
            ~manages,
            Device.status == DeviceStatus.IN_USE,
            Subscription.owner_id == Employee.id,
            Subscription.kind == SubscriptionKind.PERSONAL,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
        .order_by(Employee.id)
        .limit(1)
    ).first()
    return _person(found[0], found[1]) if found is not None else None
