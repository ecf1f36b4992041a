"""registered: subscription, device, headset and directory entry of each delivered order (§3.1)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models.onboarding import OnboardingOrder, OrderStatus
from models.onboarding_rules import Services
from models.register import (
    Accessory,
    AccessoryKind,
    Device,
    DeviceStatus,
    DirectoryEntry,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from tasks.onboarding.base import Context, event, load_orders, of_municipality, services


def register(session: Session, ids: Sequence[int], *, ctx: Context) -> int:
    """Subscription, device, headset and directory entry for every delivered order (§3.1);
    how many were registered now."""
    records = []
    delivered = load_orders(session, ids, OrderStatus.DELIVERED)
    of_municipality(ctx, delivered)
    for order in delivered:
        placed = services(order)
        subscription = _subscription(session, order, placed)
        device = _device(session, order, subscription)
        directory = _directory_entry(session, order)
        order.subscription_id, order.device_id = subscription.id, device.id
        order.status = OrderStatus.REGISTERED
        records.append(
            event(
                ctx,
                order,
                "registered",
                rule="§3.1",
                reason=f"abonnemang, telefon{' och headset' if order.headset else ''} "
                f"registrerade; {directory}",
                after={
                    "abonnemang": subscription.id,
                    "nummer": order.number,
                    "telefon": device.id,
                    "hänvisning": placed.referral,
                    "appar": [a["name"] for a in order.apps if a.get("approved")],
                },
            )
        )
    audit.record_many(session, records)
    return len(delivered)


def _subscription(session: Session, order: OnboardingOrder, placed: Services) -> Subscription:
    """The personal subscription, with the services the order was placed with."""
    subscription = Subscription(
        number=order.number,
        kind=SubscriptionKind.PERSONAL,
        municipality_id=order.municipality_id,
        owner_id=order.employee_id,
        option_id=order.subscription_option_id,
        status=SubscriptionStatus.ACTIVE,
        has_data=placed.data,
        has_referral=placed.referral,
        referral_calendar_link=placed.referral_calendar,
        has_voicemail=True,
    )
    session.add(subscription)
    session.flush()
    return subscription


def _device(session: Session, order: OnboardingOrder, subscription: Subscription) -> Device:
    """The phone in the employee's hands, and its headset if one was ordered (§4.2.1)."""
    device = Device(
        municipality_id=order.municipality_id,
        model_id=order.phone_model_id,
        imei=order.imei,
        status=DeviceStatus.IN_USE,
        holder_id=order.employee_id,
        subscription_id=subscription.id,
        deviation_reason=order.deviation_reason,
        deviation_note=order.deviation_note,
    )
    session.add(device)
    session.flush()
    if order.headset:
        session.add(
            Accessory(
                kind=AccessoryKind.HEADSET,
                municipality_id=order.municipality_id,
                device_id=device.id,
                holder_id=order.employee_id,
                description="headset",
            )
        )
    return device


def _directory_entry(session: Session, order: OnboardingOrder) -> str:
    """The employee's entry in the contact centre's directory (§3.1); what was done to it."""
    e = order.employee
    entry = session.scalar(select(DirectoryEntry).where(DirectoryEntry.employee_id == e.id))
    if entry is not None:
        if entry.phone_number is None or order.replacement:
            entry.phone_number = order.number
        return "numret lagt på befintlig post i kunddatabasen"
    session.add(
        DirectoryEntry(
            kind=SubscriptionKind.PERSONAL,
            municipality_id=e.municipality_id,
            employee_id=e.id,
            name=e.name,
            phone_number=order.number,
            email=e.email,
            title=e.title,
            personnummer_encrypted=e.personnummer_encrypted,
            personnummer_hash=e.personnummer_hash,
            user_id=e.user_id,
            unit_id=e.unit_id,
            cost_centre_id=e.cost_centre_id,
            visiting_address=e.visiting_address,
            keywords=e.keywords,
        )
    )
    return "ny post i kunddatabasen"
