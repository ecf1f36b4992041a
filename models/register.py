"""The telephony register: units, people, subscriptions, devices and the contact centre's directory.

Everything in it belongs to one municipality (`Municipality`): employee numbers, unit and
cost-centre codes are unique within one, phone numbers and IMEIs across all. The catalogue
(phone models, subscription options) is shared, or one municipality's own.

Rules that the database itself enforces (on SQLite and PostgreSQL) are named constraints here;
`models.rule_errors` explains each in words when one is broken.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_ts, intpk, name200, updated_ts


def _enum(cls: type[enum.Enum], name: str, *, length: int = 20) -> Enum:
    # VARCHAR + CHECK on every engine: portable, and migrations need no native ENUM types.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class SubscriptionKind(enum.StrEnum):
    PERSONAL = "personal"  # personbundet: has an owner
    NON_PERSONAL = "non_personal"  # icke personbundet: has a designation (benämning)


class SubscriptionStatus(enum.StrEnum):
    ORDERED = "ordered"
    ACTIVE = "active"
    BLOCKED = "blocked"
    TERMINATED = "terminated"
    TRANSFERRED = "transferred"


class DeviceStatus(enum.StrEnum):
    ORDERED = "ordered"
    IN_USE = "in_use"
    IN_STOCK = "in_stock"
    LOST = "lost"
    STOLEN = "stolen"
    DAMAGED = "damaged"
    RETURNED = "returned"
    FACTORY_RESET = "factory_reset"
    DISPOSED = "disposed"


class DeviationReason(enum.StrEnum):
    """Why a model other than the standard one was chosen (§4.1.1)."""

    ACCESSIBILITY = "accessibility"  # funktionsnedsättning
    RUGGED = "rugged"  # vatten-, smuts- och stöttålig


class AccessoryKind(enum.StrEnum):
    HEADSET = "headset"
    CHARGER = "charger"
    CASE = "case"
    OTHER = "other"


class Municipality(Base):
    """A municipality the installation serves; its settings are found by `code`."""

    __tablename__ = "municipality"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The audit events up to this one were written before the register knew municipalities,
    # when it held only this one's (migration 0008); None for every other.
    audit_through: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[created_ts]


def _municipality() -> Mapped[int]:
    return mapped_column(ForeignKey("municipality.id"), index=True)


class OrgUnit(Base):
    """Organisationstillhörighet."""

    __tablename__ = "org_unit"
    __table_args__ = (UniqueConstraint("municipality_id", "code"),)

    id: Mapped[intpk]
    municipality_id: Mapped[int] = _municipality()
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[name200]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))


class CostCentre(Base):
    """Kostnadsställe."""

    __tablename__ = "cost_centre"
    __table_args__ = (UniqueConstraint("municipality_id", "code"),)

    id: Mapped[intpk]
    municipality_id: Mapped[int] = _municipality()
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[name200]


# Tables the directory sync updates in place every night: room on each page for the new row
# versions (PostgreSQL HOT updates; migration 0007).
NIGHTLY_UPDATED: dict[str, Any] = {"postgresql_with": {"fillfactor": 90}}


class Employee(Base):
    """A person employed by the municipality, as HR knows them."""

    __tablename__ = "employee"
    __table_args__ = (
        CheckConstraint("need_category IN (1, 2, 3)", name="need_category"),
        CheckConstraint(
            "employment_end IS NULL OR employment_end >= employment_start",
            name="employment_period",
        ),
        UniqueConstraint("municipality_id", "employee_number"),
        UniqueConstraint("municipality_id", "personnummer_hash"),
        UniqueConstraint("municipality_id", "user_id"),
        NIGHTLY_UPDATED,
    )

    id: Mapped[intpk]
    municipality_id: Mapped[int] = _municipality()
    employee_number: Mapped[str] = mapped_column(String(20))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Personnummer: encrypted, looked up by keyed hash, never stored in clear.
    personnummer_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    personnummer_hash: Mapped[str] = mapped_column(String(64))
    is_samordningsnummer: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(254))
    title: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(50))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    cost_centre_id: Mapped[int] = mapped_column(ForeignKey("cost_centre.id"))
    visiting_address: Mapped[str | None] = mapped_column(String(300))
    keywords: Mapped[str | None] = mapped_column(String(500))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    employment_start: Mapped[date]
    employment_end: Mapped[date | None]
    left_at: Mapped[date | None]  # when the directory sync saw the person leave
    need_category: Mapped[int | None] = mapped_column(SmallInteger)
    # Keyed digest of the HR export row the HR fields above were last written from
    # (models.hr_export.row_digests): the nightly sync looks no further at a row whose digest
    # is unchanged. Whatever else writes those fields must set it to None.
    hr_digest: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    unit: Mapped[OrgUnit] = relationship()
    cost_centre: Mapped[CostCentre] = relationship()
    manager: Mapped[Employee | None] = relationship(remote_side="Employee.id")

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __repr__(self) -> str:
        return f"Employee({self.employee_number})"


class PhoneModel(Base):
    """A phone model in the employer's catalogue (§4, §4.1.1)."""

    __tablename__ = "phone_model"

    id: Mapped[intpk]
    # None: in every municipality's catalogue; else only in that one's.
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    manufacturer: Mapped[str] = mapped_column(String(100))
    is_standard: Mapped[bool] = mapped_column(Boolean)
    is_smartphone: Mapped[bool] = mapped_column(Boolean)
    is_accessible: Mapped[bool] = mapped_column(Boolean, default=False)
    is_rugged: Mapped[bool] = mapped_column(Boolean, default=False)
    includes_headset: Mapped[bool] = mapped_column(Boolean, default=False)
    available: Mapped[bool] = mapped_column(Boolean, default=True)


class SubscriptionOption(Base):
    """A subscription option the employer offers (§4)."""

    __tablename__ = "subscription_option"

    id: Mapped[intpk]
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"))
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[name200]
    includes_data: Mapped[bool] = mapped_column(Boolean)
    monthly_fee_sek: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    description: Mapped[str | None] = mapped_column(Text)
    available: Mapped[bool] = mapped_column(Boolean, default=True)


class Subscription(Base):
    """A mobile subscription: personal (has an owner) or non-personal (has a designation)."""

    __tablename__ = "subscription"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'personal' AND owner_id IS NOT NULL AND designation IS NULL)"
            " OR (kind = 'non_personal' AND owner_id IS NULL AND designation IS NOT NULL)",
            name="personal_owner_designation",
        ),
        CheckConstraint(
            "phone_hours IS NULL OR kind = 'non_personal'", name="phone_hours_non_personal"
        ),
        CheckConstraint("number LIKE '+%' AND length(number) BETWEEN 8 AND 16", name="number_e164"),
    )

    id: Mapped[intpk]
    municipality_id: Mapped[int] = _municipality()
    number: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[SubscriptionKind] = mapped_column(_enum(SubscriptionKind, "subscription_kind"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    designation: Mapped[str | None] = mapped_column(String(200))
    option_id: Mapped[int | None] = mapped_column(ForeignKey("subscription_option.id"))
    status: Mapped[SubscriptionStatus] = mapped_column(
        _enum(SubscriptionStatus, "subscription_status"), default=SubscriptionStatus.ORDERED
    )
    # Services
    has_data: Mapped[bool] = mapped_column(Boolean, default=False)  # §4.2.2
    has_referral: Mapped[bool] = mapped_column(Boolean, default=False)  # hänvisning, §4.2.3
    referral_calendar_link: Mapped[bool] = mapped_column(Boolean, default=False)  # §4.2.3
    has_voicemail: Mapped[bool] = mapped_column(Boolean, default=False)
    phone_hours: Mapped[str | None] = mapped_column(String(200))  # telefontid, §5.1.1
    is_on_call: Mapped[bool] = mapped_column(Boolean, default=False)  # jour
    # Where a non-personal number belongs; a personal one follows its owner.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    cost_centre_id: Mapped[int | None] = mapped_column(ForeignKey("cost_centre.id"))
    email: Mapped[str | None] = mapped_column(String(254))
    visiting_address: Mapped[str | None] = mapped_column(String(300))
    keywords: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    owner: Mapped[Employee | None] = relationship()
    option: Mapped[SubscriptionOption | None] = relationship()


class Device(Base):
    """A phone from the catalogue, held by an employee or in stock."""

    __tablename__ = "device"
    __table_args__ = (CheckConstraint("imei IS NULL OR length(imei) = 15", name="imei_length"),)

    id: Mapped[intpk]
    municipality_id: Mapped[int] = _municipality()
    model_id: Mapped[int] = mapped_column(ForeignKey("phone_model.id"))
    imei: Mapped[str | None] = mapped_column(String(15), unique=True)
    status: Mapped[DeviceStatus] = mapped_column(
        _enum(DeviceStatus, "device_status"), default=DeviceStatus.ORDERED
    )
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscription.id"))
    deviation_reason: Mapped[DeviationReason | None] = mapped_column(
        _enum(DeviationReason, "deviation_reason")
    )
    deviation_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    model: Mapped[PhoneModel] = relationship()
    holder: Mapped[Employee | None] = relationship()

    @property
    def is_smartphone(self) -> bool:
        return self.model.is_smartphone


class Accessory(Base):
    """Kringutrustning, e.g. a headset (§4.2.1)."""

    __tablename__ = "accessory"

    id: Mapped[intpk]
    municipality_id: Mapped[int] = _municipality()
    kind: Mapped[AccessoryKind] = mapped_column(_enum(AccessoryKind, "accessory_kind"))
    description: Mapped[str | None] = mapped_column(String(200))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    created_at: Mapped[created_ts]


class DirectoryEntry(Base):
    """An entry in the contact centre's customer database (kunddatabas), with the §3.1 fields.

    Personal: name, phone number, e-mail, title, personnummer, user id, unit, cost centre,
    visiting address, keywords. Non-personal: designation instead of name, and no
    personnummer, user id or title.
    """

    __tablename__ = "directory_entry"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'personal' AND employee_id IS NOT NULL AND name IS NOT NULL"
            " AND personnummer_hash IS NOT NULL AND designation IS NULL"
            " AND subscription_id IS NULL)"
            " OR (kind = 'non_personal' AND subscription_id IS NOT NULL"
            " AND designation IS NOT NULL AND phone_number IS NOT NULL"
            " AND employee_id IS NULL AND name IS NULL AND title IS NULL AND user_id IS NULL"
            " AND personnummer_encrypted IS NULL AND personnummer_hash IS NULL)",
            name="personal_fields",
        ),
        NIGHTLY_UPDATED,
    )

    id: Mapped[intpk]
    municipality_id: Mapped[int] = _municipality()
    kind: Mapped[SubscriptionKind] = mapped_column(_enum(SubscriptionKind, "directory_kind"))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), unique=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscription.id"), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    designation: Mapped[str | None] = mapped_column(String(200))
    phone_number: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    title: Mapped[str | None] = mapped_column(String(200))
    personnummer_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    personnummer_hash: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(50))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    cost_centre_id: Mapped[int] = mapped_column(ForeignKey("cost_centre.id"))
    visiting_address: Mapped[str | None] = mapped_column(String(300))
    keywords: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[updated_ts]
