"""Orders and terminations for the designated ordering function (§6.1, §8.1) and what comes
back: pure data, no I/O.

An order carries what the operator needs to deliver a phone and a subscription, a termination
what it needs to end one, and nothing more: never a personnummer. Their idempotency keys are
given by the caller and are the same on every retry and re-run, so the operator (or the
outbox) can tell a repeat from a new request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import phonenumbers

ORDER_TEMPLATE = "operatorsbestallning"
TERMINATION_TEMPLATE = "operatorsuppsagning"
MAX_KEY_LENGTH = 200  # the outbox's business_key column
_KEY = re.compile(r"[A-Za-z0-9._:/+=-]+")  # safe in an HTTP header and a URL path segment

Channel = Literal["email", "http"]
DeliveryState = Literal["pending", "delivered", "cancelled"]
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "delivered", "cancelled")
TerminationState = Literal["pending", "confirmed", "refused"]
TERMINATION_STATES: tuple[TerminationState, ...] = ("pending", "confirmed", "refused")


def _check_request(idempotency_key: str, reference: str) -> None:
    """What every request to the ordering function needs: a usable key and a reference."""
    if not _KEY.fullmatch(idempotency_key) or len(idempotency_key) > MAX_KEY_LENGTH:
        raise ValueError("idempotency_key must be 1-200 characters of A-Z, a-z, 0-9 and ._:/+=-")
    if not reference.strip():
        raise ValueError("reference must not be empty")


@dataclass(frozen=True, slots=True)
class OperatorOrder:
    """One phone and subscription for one person, as sent to the ordering function."""

    idempotency_key: str  # deterministic: the same order always has the same key
    reference: str  # the human order reference, e.g. "TEL-000123"
    employee_number: str
    employee_name: str
    email: str | None
    unit: str  # organisational unit, name or code
    cost_centre: str
    need_category: int  # §4.1
    phone_model: str
    deviation_reason: str | None  # §4.1.1, in Swedish; None for a standard model
    headset: bool  # §4.2.1
    subscription_option: str  # catalogue code
    subscription_name: str
    data: bool  # §4.2.2
    referral: bool  # §4.2.3: always True for a personal subscription
    referral_calendar: bool
    apps: tuple[str, ...]  # paid apps a manager approved (§4.2.4)
    wanted_by: date | None
    requested_by: str
    approved_by: str
    replacement: bool  # replaces a lost, stolen or broken phone
    municipality: str = ""  # the name of the municipality that orders (its staff, its bill)

    def __post_init__(self) -> None:
        _check_request(self.idempotency_key, self.reference)

    def payload(self) -> dict[str, Any]:
        """The order as JSON for the operator's API."""
        return {
            "idempotency_key": self.idempotency_key,
            "reference": self.reference,
            "employee_number": self.employee_number,
            "employee_name": self.employee_name,
            "email": self.email,
            "unit": self.unit,
            "cost_centre": self.cost_centre,
            "need_category": self.need_category,
            "phone_model": self.phone_model,
            "deviation_reason": self.deviation_reason,
            "headset": self.headset,
            "subscription_option": self.subscription_option,
            "subscription_name": self.subscription_name,
            "data": self.data,
            "referral": self.referral,
            "referral_calendar": self.referral_calendar,
            "apps": list(self.apps),
            "wanted_by": self.wanted_by.isoformat() if self.wanted_by else None,
            "requested_by": self.requested_by,
            "approved_by": self.approved_by,
            "replacement": self.replacement,
            "municipality": self.municipality or None,
        }


@dataclass(frozen=True, slots=True)
class OrderReceipt:
    """The order was handed over: queued for the ordering function, or accepted by the API."""

    channel: Channel
    operator_reference: str | None  # the operator's own reference, when its API gives one
    duplicate: bool  # the key was already known: nothing new was ordered


@dataclass(frozen=True, slots=True)
class TerminationOrder:
    """One subscription to end, as sent to the ordering function."""

    idempotency_key: str  # deterministic: the same termination always has the same key
    reference: str  # the offboarding's reference for people, e.g. "AVS-000012"
    number: str  # the subscription's number, E.164 (+46...)
    employee_number: str
    employee_name: str
    last_day: date  # the last working day: the subscription ends from the day after
    requested_by: str  # who asked (an employee number or "system")
    municipality: str = ""  # the name of the municipality whose subscription it is

    def __post_init__(self) -> None:
        _check_request(self.idempotency_key, self.reference)
        try:
            normalised = phone_number(self.number)
        except ValueError:
            normalised = None
        if normalised != self.number:
            raise ValueError("number must be a Swedish number in E.164 form, e.g. +46701234567")

    @property
    def ends_from(self) -> date:
        """The first day without the subscription: the day after the last working day."""
        return self.last_day + timedelta(days=1)

    def payload(self) -> dict[str, Any]:
        """The termination as JSON for the operator's API."""
        return {
            "idempotency_key": self.idempotency_key,
            "reference": self.reference,
            "number": self.number,
            "employee_number": self.employee_number,
            "employee_name": self.employee_name,
            "last_day": self.last_day.isoformat(),
            "ends_from": self.ends_from.isoformat(),
            "requested_by": self.requested_by,
            "municipality": self.municipality or None,
        }


@dataclass(frozen=True, slots=True)
class TerminationReceipt:
    """The termination was handed over: queued for the ordering function, or sent to the API."""

    channel: Channel
    operator_reference: str | None  # the operator's own reference, when its API gives one
    confirmed: bool  # the operator confirmed the subscription ends; by e-mail never (yet)
    duplicate: bool  # the key was already known: nothing new was sent


class InvalidDelivery(ValueError):
    """Delivery details that cannot be registered; `fields` maps each bad field to why."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        super().__init__("Ogiltiga leveransuppgifter: " + "; ".join(fields.values()))


def luhn_valid(digits: str) -> bool:
    """Whether the last digit is the Luhn check digit of the others (IMEI, ICCID)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_digit(digits: str) -> str:
    """The check digit that makes `digits` followed by it Luhn-valid."""
    return next(d for d in "0123456789" if luhn_valid(digits + d))


_SEPARATORS = re.compile(r"[\s\-/.]")


def phone_number(value: str) -> str:
    """A Swedish number as people write it, in E.164 (ValueError, in Swedish, if it is none)."""
    try:
        parsed = phonenumbers.parse(value, "SE")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or parsed.country_code != 46 or not phonenumbers.is_valid_number(parsed):
        raise ValueError(
            "Telefonnumret är inte ett giltigt svenskt nummer "
            "(skriv t.ex. +46701234567 eller 070-123 45 67)."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _imei(value: str) -> str:
    digits = _SEPARATORS.sub("", value)
    if not digits.isascii() or not digits.isdigit() or len(digits) != 15:
        raise ValueError(f"IMEI ska vara 15 siffror (fick {len(digits)} tecken).")
    if not luhn_valid(digits):
        raise ValueError("IMEI har fel kontrollsiffra: kontrollera att siffrorna är rätt.")
    return digits


def _iccid(value: str) -> str:
    digits = _SEPARATORS.sub("", value)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (19, 20):
        raise ValueError(
            f"SIM-kortsnumret (ICCID) ska vara 19 eller 20 siffror (fick {len(digits)} tecken)."
        )
    if not digits.startswith("89"):
        raise ValueError("SIM-kortsnumret (ICCID) ska börja med 89.")
    if not luhn_valid(digits):
        raise ValueError(
            "SIM-kortsnumret (ICCID) har fel kontrollsiffra: kontrollera att siffrorna är rätt."
        )
    return digits


def _validated(number: str, imei: str, sim: str) -> tuple[str, str, str]:
    errors: dict[str, str] = {}
    values: list[str] = []
    for field, check, raw in (
        ("number", phone_number, number),
        ("imei", _imei, imei),
        ("sim", _iccid, sim),
    ):
        try:
            values.append(check(str(raw).strip()))
        except ValueError as exc:
            errors[field] = str(exc)
    if errors:
        raise InvalidDelivery(errors)
    return values[0], values[1], values[2]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the operator delivered: the number (E.164), the phone's IMEI and the SIM's ICCID."""

    number: str
    imei: str
    sim: str

    def __post_init__(self) -> None:
        if _validated(self.number, self.imei, self.sim) != (self.number, self.imei, self.sim):
            raise InvalidDelivery(
                {"delivery": "Leveransuppgifterna ska vara normaliserade; använd Delivery.parse."}
            )

    @classmethod
    def parse(cls, *, number: str, imei: str, sim: str) -> Delivery:
        """Delivery details as a person or the operator typed them; InvalidDelivery if wrong."""
        return cls(*_validated(number, imei, sim))


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """Where an order stands at the operator; `delivery` only once it is delivered."""

    state: DeliveryState
    delivery: Delivery | None = None

    def __post_init__(self) -> None:
        if self.state not in DELIVERY_STATES:
            raise ValueError(f"unknown delivery state {self.state!r}")
        if (self.state == "delivered") != (self.delivery is not None):
            raise ValueError("a delivered order has delivery details, and only a delivered one")


def _yes_no(value: bool) -> str:
    return "Ja" if value else "Nej"


def order_mail_context(order: OperatorOrder, *, municipality: str = "") -> dict[str, Any]:
    """Template context for `operatorsbestallning`: every field of the order, in Swedish;
    the municipality that orders is the order's, else `municipality`."""
    subscription = f"{order.subscription_name} ({order.subscription_option})"
    who = order.municipality or municipality
    rows: list[tuple[str, str]] = [
        *([("Kommun", who)] if who else []),
        ("Beställningsreferens", order.reference),
        ("Beställningsnyckel", order.idempotency_key),
        ("Typ av beställning", "Ersättning" if order.replacement else "Ny telefon"),
        ("Namn", order.employee_name),
        ("Anställningsnummer", order.employee_number),
        ("E-post", order.email or "saknas"),
        ("Organisationstillhörighet", order.unit),
        ("Kostnadsställe", order.cost_centre),
        ("Behovskategori (§4.1)", str(order.need_category)),
        ("Telefonmodell", order.phone_model),
        (
            "Avvikelse från standardmodell (§4.1.1)",
            order.deviation_reason or "Nej, standardmodell",
        ),
        ("Headset (§4.2.1)", _yes_no(order.headset)),
        ("Abonnemang", subscription),
        ("Mobildata (§4.2.2)", _yes_no(order.data)),
        ("Hänvisning (§4.2.3)", _yes_no(order.referral)),
        ("Hänvisning från kalendern", _yes_no(order.referral_calendar)),
        ("Betalappar godkända av chef (§4.2.4)", ", ".join(order.apps) or "Inga"),
        ("Önskas senast", order.wanted_by.isoformat() if order.wanted_by else "Snarast"),
        ("Beställd av", order.requested_by),
        ("Godkänd av", order.approved_by),
    ]
    return {
        "municipality": who,
        "reference": order.reference,
        "idempotency_key": order.idempotency_key,
        "employee_name": order.employee_name,
        "employee_number": order.employee_number,
        "replacement": order.replacement,
        "rows": rows,
        "label_width": max(len(label) for label, _ in rows) + 1,
    }


def termination_mail_context(order: TerminationOrder, *, municipality: str) -> dict[str, Any]:
    """Template context for `operatorsuppsagning`, in Swedish; the municipality whose
    subscription it is is the order's, else `municipality`."""
    who = order.municipality or municipality
    rows: list[tuple[str, str]] = [
        *([("Kommun", who)] if who else []),
        ("Uppsägningsreferens", order.reference),
        ("Uppsägningsnyckel", order.idempotency_key),
        ("Nummer som sägs upp", order.number),
        ("Abonnemanget upphör från och med", order.ends_from.isoformat()),
        ("Sista arbetsdag", order.last_day.isoformat()),
        ("Namn", order.employee_name),
        ("Anställningsnummer", order.employee_number),
        ("Begärd av", order.requested_by),
    ]
    return {
        "municipality": who,
        "reference": order.reference,
        "idempotency_key": order.idempotency_key,
        "number": order.number,
        "ends_from": order.ends_from.isoformat(),
        "employee_name": order.employee_name,
        "employee_number": order.employee_number,
        "rows": rows,
        "label_width": max(len(label) for label, _ in rows) + 1,
    }
