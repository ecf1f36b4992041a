"""Onboarding orders (§4, §6.1): from a need to a working phone, one row per order.

The row is the order's memory across retries, crashes, suspensions and re-runs: every step
looks at `status` first and does only what is left. Its `request_key` makes one order per
request; its `operator_key`, stored before anything is sent to the operator, makes one order
at the operator.
"""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, created_ts, intpk, updated_ts
from models.register import DeviationReason, Employee, PhoneModel, SubscriptionOption, _enum

OBJECT_TYPE = "onboarding_order"


class OrderStatus(enum.StrEnum):
    REQUESTED = "requested"
    REFUSED = "refused"  # broke a rule of the guideline; never reached the manager
    AWAITING_APPROVAL = "awaiting_approval"
    REJECTED = "rejected"  # the manager said no, or the deadline passed
    APPROVED = "approved"
    ORDERING = "ordering"  # operator key stored; the order may be on its way
    ORDERED = "ordered"
    DELIVERED = "delivered"
    REGISTERED = "registered"
    COMPLETED = "completed"  # registered and everyone told

    @property
    def closed(self) -> bool:
        return self in (OrderStatus.REFUSED, OrderStatus.REJECTED, OrderStatus.COMPLETED)


STATUS_SV = {
    OrderStatus.REQUESTED: "mottagen",
    OrderStatus.REFUSED: "avvisad enligt riktlinjerna",
    OrderStatus.AWAITING_APPROVAL: "väntar på chefens beslut",
    OrderStatus.REJECTED: "avslagen",
    OrderStatus.APPROVED: "godkänd",
    OrderStatus.ORDERING: "beställs",
    OrderStatus.ORDERED: "beställd",
    OrderStatus.DELIVERED: "levererad",
    OrderStatus.REGISTERED: "registrerad",
    OrderStatus.COMPLETED: "klar",
}


class OnboardingOrder(Base):
    __tablename__ = "onboarding_order"
    __table_args__ = (UniqueConstraint("request_key", "request_attempt"),)

    id: Mapped[intpk]
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    # The request's identity (sha256 of its content) and how many like it were turned down
    # before: the same request again finds this order, unless it was refused or rejected.
    request_key: Mapped[str] = mapped_column(String(64))
    request_attempt: Mapped[int] = mapped_column(Integer, default=0)
    batch_key: Mapped[str | None] = mapped_column(String(80), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        _enum(OrderStatus, "onboarding_status"), default=OrderStatus.REQUESTED
    )
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id"), index=True)
    need_category: Mapped[int] = mapped_column(SmallInteger)
    phone_model_id: Mapped[int | None] = mapped_column(ForeignKey("phone_model.id"))
    phone_model_name: Mapped[str] = mapped_column(String(200))  # as asked for
    deviation_reason: Mapped[DeviationReason | None] = mapped_column(
        _enum(DeviationReason, "onboarding_deviation")
    )
    deviation_note: Mapped[str | None] = mapped_column(Text)
    headset: Mapped[bool] = mapped_column(Boolean)
    subscription_option_id: Mapped[int | None] = mapped_column(ForeignKey("subscription_option.id"))
    subscription_option_code: Mapped[str] = mapped_column(String(20))  # as asked for
    data: Mapped[bool] = mapped_column(Boolean)
    referral: Mapped[bool] = mapped_column(Boolean, default=True)  # §4.2.3, always on
    # [{"name", "monthly_cost_sek", "why", "approved": bool | None}]
    apps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    replacement: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[str] = mapped_column(String(50))
    wanted_by: Mapped[date | None]
    findings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # The approval
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    decided_by: Mapped[str | None] = mapped_column(String(50))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_comment: Mapped[str | None] = mapped_column(Text)
    approval_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)  # before 0009; now the ask's
    ask_id: Mapped[int | None] = mapped_column(ForeignKey("ask.id"), index=True)  # the decision
    # How many waits for a person this order's run has finished (the next wait's key).
    approval_round: Mapped[int] = mapped_column(Integer, default=1)
    delivery_round: Mapped[int] = mapped_column(Integer, default=1)
    # The order at the operator
    operator_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    channel: Mapped[str | None] = mapped_column(String(10))
    operator_reference: Mapped[str | None] = mapped_column(String(100))
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The delivery
    number: Mapped[str | None] = mapped_column(String(16))
    imei: Mapped[str | None] = mapped_column(String(15))
    sim: Mapped[str | None] = mapped_column(String(22))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscription.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    flow_run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]

    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    approver: Mapped[Employee | None] = relationship(foreign_keys=[approver_id])

    @property
    def approver_number(self) -> str | None:
        """The employee number of whoever is asked to decide (None when nobody is)."""
        return self.approver.employee_number if self.approver else None

    phone_model: Mapped[PhoneModel | None] = relationship()
    subscription_option: Mapped[SubscriptionOption | None] = relationship()

    @property
    def reference(self) -> str:
        """The order's name for people: TEL-000123."""
        return f"TEL-{self.id:06d}"

    def __repr__(self) -> str:
        return f"OnboardingOrder({self.reference}, {self.status})"


def reference_id(reference: str) -> int:
    """TEL-000123 → 123 (a clear error for anything else)."""
    text = reference.strip().upper()
    if not text.startswith("TEL-") or not text[4:].isdigit():
        raise ValueError(f"{reference!r} är ingen beställningsreferens (TEL-000123)")
    return int(text[4:])


def content_key(fields: dict[str, Any]) -> str:
    """A request's identity: the sha256 of its canonical content."""

    def default(value: Any) -> str:
        if isinstance(value, date | Decimal):
            return str(value)
        raise TypeError(type(value).__name__)

    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=default)
    return hashlib.sha256(text.encode()).hexdigest()
