"""Delivery details from the operator or a form, the order's key, and the mail context."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from models.ordering import (
    Delivery,
    DeliveryStatus,
    InvalidDelivery,
    OperatorOrder,
    TerminationOrder,
    luhn_digit,
    luhn_valid,
    order_mail_context,
    termination_mail_context,
)

NUMBER = "+46701740605"  # PTS's fictional mobile series
# The example IMEI of the IMEI article on Wikipedia: 49015420323751 with check digit 8.
IMEI = "490154203237518"
# A 19-digit ICCID from a published worked example (Smartjac's knowledge base, "Calculations:
# ICCID checksum"): 896588081210001114 with check digit 6. Luhn by hand, doubling every
# other digit from the right:
#   digits   8  9  6  5  8  8  0  8  1  2  1  0  0  0  1  1  1  4
#   counted  8  9  6  1  8  7  0  7  1  4  1  0  0  0  1  2  1  8   (x2, less 9 if over 9)
#   sum 64, so the check digit is (10 - 64 % 10) % 10 = 6
ICCID = "8965880812100011146"
# A 20-digit ICCID (Swedish country code 46), not from a publication; its check digit by hand:
#   digits   8  9  4  6  0  1  0  1  2  3  4  5  6  7  8  9  0  1  2
#   counted  7  9  8  6  0  1  0  1  4  3  8  5  3  7  7  9  0  1  4
#   sum 83, so the check digit is 7
ICCID_20 = "89460101234567890127"


def order() -> OperatorOrder:
    return OperatorOrder(
        idempotency_key="onboarding-17-order",
        reference="TEL-000017",
        employee_number="E1017",
        employee_name="Åsa Öberg",
        email=None,
        unit="Socialtjänst",
        cost_centre="4410",
        need_category=2,
        phone_model="Standardtelefon",
        deviation_reason=None,
        headset=False,
        subscription_option="BAS",
        subscription_name="Bas",
        data=True,
        referral=True,
        referral_calendar=False,
        apps=(),
        wanted_by=date(2025, 9, 1),
        requested_by="Admin A",
        approved_by="Chef C",
        replacement=True,
    )


def test_luhn() -> None:
    assert luhn_valid(IMEI)
    assert not luhn_valid(IMEI[:-1] + str((int(IMEI[-1]) + 1) % 10))
    assert luhn_digit(IMEI[:-1]) == "8"
    assert luhn_valid(ICCID) and luhn_digit("896588081210001114") == "6"
    assert luhn_valid(ICCID_20) and luhn_digit("8946010123456789012") == "7"
    assert not luhn_valid(ICCID[:-1] + "7")


@pytest.mark.parametrize(
    ("number", "imei", "sim"),
    [
        (NUMBER, IMEI, ICCID),
        ("070-174 06 05", "49-015420-323751-8", " ".join([ICCID[:4], ICCID[4:]])),
        ("0046 70 174 06 05", IMEI, ICCID),
    ],
)
def test_parse_normalises(number: str, imei: str, sim: str) -> None:
    assert Delivery.parse(number=number, imei=imei, sim=sim) == Delivery(NUMBER, IMEI, ICCID)


def test_twenty_digit_iccid() -> None:
    assert Delivery.parse(number=NUMBER, imei=IMEI, sim=ICCID_20).sim == ICCID_20


@pytest.mark.parametrize(
    ("field", "kwargs", "words"),
    [
        ("number", {"number": "12345"}, "Telefonnumret"),
        ("number", {"number": "+4512345678"}, "svenskt"),  # Danish
        ("number", {"number": ""}, "Telefonnumret"),
        ("imei", {"imei": IMEI[:-1]}, "IMEI ska vara 15 siffror"),
        ("imei", {"imei": IMEI[:-1] + "0"}, "IMEI har fel kontrollsiffra"),
        ("imei", {"imei": "49015420323751X"}, "IMEI ska vara 15 siffror"),
        ("sim", {"sim": ICCID[:-2]}, "SIM-kortsnumret (ICCID) ska vara 19 eller 20 siffror"),
        ("sim", {"sim": "77" + ICCID[2:]}, "ska börja med 89"),
        ("sim", {"sim": ICCID[:-1] + str((int(ICCID[-1]) + 1) % 10)}, "fel kontrollsiffra"),
    ],
)
def test_parse_names_the_field(field: str, kwargs: dict[str, str], words: str) -> None:
    values = {"number": NUMBER, "imei": IMEI, "sim": ICCID} | kwargs
    with pytest.raises(InvalidDelivery) as caught:
        Delivery.parse(**values)
    assert set(caught.value.fields) == {field}
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_parse_reports_every_bad_field_without_echoing_values() -> None:
    with pytest.raises(InvalidDelivery) as caught:
        Delivery.parse(number="198507099805", imei="198507099805", sim="198507099805")
    assert set(caught.value.fields) == {"number", "imei", "sim"}
    message = str(caught.value)
    assert "Telefonnumret" in message and "IMEI" in message and "SIM-kortsnumret" in message
    assert "198507099805" not in message  # a mistyped personnummer is never echoed


def test_delivery_refuses_unnormalised_values() -> None:
    with pytest.raises(ValueError, match=r"Delivery\.parse"):
        Delivery("070-174 06 05", IMEI, ICCID)


def test_delivery_status_shape() -> None:
    assert DeliveryStatus("pending").delivery is None
    DeliveryStatus("delivered", Delivery(NUMBER, IMEI, ICCID))
    with pytest.raises(ValueError):
        DeliveryStatus("delivered")
    with pytest.raises(ValueError):
        DeliveryStatus("cancelled", Delivery(NUMBER, IMEI, ICCID))


@pytest.mark.parametrize("key", ["", "has space", "line\nbreak", "x" * 201, "åäö"])
def test_order_key_must_be_header_safe(key: str) -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        replace(order(), idempotency_key=key)


def test_payload_and_mail_context() -> None:
    o = order()
    payload = o.payload()
    assert payload["wanted_by"] == "2025-09-01" and payload["apps"] == []
    assert "personnummer" not in payload
    context = order_mail_context(o, municipality="Sjöbacka kommun")
    rows = dict(context["rows"])
    assert rows["Typ av beställning"] == "Ersättning"
    assert rows["E-post"] == "saknas"
    assert rows["Betalappar godkända av chef (§4.2.4)"] == "Inga"
    assert rows["Avvikelse från standardmodell (§4.1.1)"] == "Nej, standardmodell"


def termination() -> TerminationOrder:
    return TerminationOrder(
        idempotency_key="offboarding-12-terminate",
        reference="AVS-000012",
        number=NUMBER,
        employee_number="E1012",
        employee_name="Åsa Öberg",
        last_day=date(2026, 12, 31),  # the year's last day: it ends from the next year's first
        requested_by="system",
    )


@pytest.mark.parametrize("key", ["", "has space", "line\nbreak", "x" * 201, "åäö"])
def test_termination_key_must_be_header_safe(key: str) -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        replace(termination(), idempotency_key=key)


@pytest.mark.parametrize("number", ["070-174 06 05", "0701740605", "+4512345678", "", "12345"])
def test_termination_number_is_swedish_e164(number: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        replace(termination(), number=number)


def test_termination_needs_a_reference() -> None:
    with pytest.raises(ValueError, match="reference"):
        replace(termination(), reference=" ")


def test_termination_payload_and_mail_context() -> None:
    t = termination()
    assert t.ends_from == date(2027, 1, 1)
    payload = t.payload()
    assert payload["last_day"] == "2026-12-31" and payload["ends_from"] == "2027-01-01"
    assert payload["number"] == NUMBER and payload["municipality"] is None
    assert "personnummer" not in payload
    context = termination_mail_context(t, municipality="Sjöbacka kommun")
    rows = dict(context["rows"])
    assert rows["Kommun"] == "Sjöbacka kommun"
    assert rows["Nummer som sägs upp"] == NUMBER
    assert rows["Abonnemanget upphör från och med"] == "2027-01-01"
    assert rows["Sista arbetsdag"] == "2026-12-31"
    own = termination_mail_context(replace(t, municipality="Älvnäs kommun"), municipality="X")
    assert own["municipality"] == "Älvnäs kommun"
    assert "Kommun" not in dict(termination_mail_context(t, municipality="")["rows"])
