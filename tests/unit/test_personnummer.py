"""Unit tests for models.personnummer (fictional numbers only: birth numbers 980–999)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import pickle
import traceback
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.personnummer import (
    TEST_BIRTH_NUMBERS,
    InvalidPersonnummer,
    Personnummer,
    PersonnummerDecryptError,
    PersonnummerVault,
    luhn_check_digit,
    make_personnummer,
    parse_personnummer,
)

TODAY = date(2026, 11, 28)

# The one fixed literal: 1985-07-09, birth number 982 (test series), check digit 1.
KNOWN = "19850709-9821"
KNOWN_SAMORDNING = "19850769-9828"

ENC_KEY = PersonnummerVault.generate_key()
LOOKUP_KEY = PersonnummerVault.generate_key()
VAULT = PersonnummerVault(encryption_key=ENC_KEY, lookup_key=LOOKUP_KEY)


# --- helpers --------------------------------------------------------------------------


def ref_luhn_ok(ten: str) -> bool:
    """Independent Luhn check (from the right, every second digit doubled)."""
    total = 0
    for i, ch in enumerate(reversed(ten)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n // 10 + n % 10
    return total % 10 == 0


def mk(y: int, m: int, d: int, serial: int = 982, *, samordning: bool = False) -> Personnummer:
    return make_personnummer(date(y, m, d), serial, samordning=samordning)


def short(p: Personnummer, sep: str = "-") -> str:
    """10-digit form YYMMDD<sep>NNNC."""
    return p.digits[2:8] + sep + p.digits[8:]


def with_check(head: str) -> str:
    """Append a correct Luhn digit to YYYYMMDDNNN (11) or YYMMDDNNN (9) digits."""
    return head + str(luhn_check_digit(head[-9:]))


def bad_check(digits: str) -> str:
    return digits[:-1] + str((int(digits[-1]) + 1) % 10)


def proper_sep(birth: date, today: date) -> str:
    """'+' from the calendar year the person turns 100 (folkbokföringslagen 18 §)."""
    return "+" if today.year - birth.year >= 100 else "-"


def sensitive_forms(value: object) -> list[str]:
    """Substrings that must never show up in error output for ``value``."""
    if not isinstance(value, str) or not value.strip():
        return []
    text = value.strip()
    only_digits = "".join(ch for ch in text if ch.isdigit())
    forms = [text]
    if len(only_digits) >= 10:
        forms += [only_digits, only_digits[-10:], only_digits[-10:-4] + "-" + only_digits[-4:]]
    return forms


def all_error_text(exc: BaseException) -> str:
    return "\n".join(
        [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    )


# --- fixed literal --------------------------------------------------------------------


def test_known_literal_is_valid_and_fictional() -> None:
    p = parse_personnummer(KNOWN, today=TODAY)
    assert p == mk(1985, 7, 9, 982)
    assert int(p.digits[8:11]) in TEST_BIRTH_NUMBERS
    assert ref_luhn_ok(p.digits[2:])
    s = parse_personnummer(KNOWN_SAMORDNING, today=TODAY)
    assert s == mk(1985, 7, 9, 982, samordning=True)
    assert ref_luhn_ok(s.digits[2:])


# --- valid input ----------------------------------------------------------------------

P = mk(1985, 7, 9, 982)
S = mk(1985, 7, 9, 983, samordning=True)
OLD = mk(1920, 3, 4, 990)  # 106 years old on TODAY
VERY_OLD = mk(1899, 12, 31, 991)
LEAP = mk(2000, 2, 29, 985)
LEAP_2024 = mk(2024, 2, 29, 986)
TODAY_BORN = mk(2026, 11, 28, 987)
TURNS_100 = mk(1926, 12, 1, 988)  # turns 100 later this year: '+' already

VALID: list[Any] = [
    pytest.param(P.canonical(), P, id="12-digit-dash"),
    pytest.param(P.digits, P, id="12-digit-plain"),
    pytest.param(P.digits[:8] + " " + P.digits[8:], P, id="12-digit-space"),
    pytest.param(short(P), P, id="10-digit-dash"),
    pytest.param(short(P, ""), P, id="10-digit-plain"),
    pytest.param(short(P, " "), P, id="10-digit-space"),
    pytest.param(f" \t{P.canonical()}\n ", P, id="whitespace-around-12"),
    pytest.param(f"  {short(P)}\r\n", P, id="whitespace-around-10"),
    pytest.param(short(OLD, "+"), OLD, id="10-digit-plus-centenarian-1920"),
    pytest.param(short(VERY_OLD, "+"), VERY_OLD, id="10-digit-plus-1899"),
    pytest.param(short(TURNS_100, "+"), TURNS_100, id="10-digit-plus-turns-100-this-year"),
    pytest.param(short(TURNS_100, "-"), TURNS_100, id="10-digit-dash-birthday-ahead-last-century"),
    pytest.param(OLD.canonical(), OLD, id="12-digit-centenarian"),
    pytest.param(S.canonical(), S, id="samordning-12"),
    pytest.param(short(S), S, id="samordning-10"),
    pytest.param(LEAP.canonical(), LEAP, id="leap-day-2000-12"),
    pytest.param(short(LEAP), LEAP, id="leap-day-2000-10"),
    pytest.param(LEAP_2024.canonical(), LEAP_2024, id="leap-day-2024"),
    pytest.param(TODAY_BORN.canonical(), TODAY_BORN, id="born-today-12"),
    pytest.param(short(TODAY_BORN), TODAY_BORN, id="born-today-10"),
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_parse_valid(value: str, expected: Personnummer) -> None:
    assert parse_personnummer(value, today=TODAY) == expected


@pytest.mark.parametrize(
    ("birth", "sep", "expected_year"),
    [
        pytest.param(date(2025, 1, 1), "-", 2025, id="25-dash-is-2025"),
        pytest.param(date(1930, 1, 1), "-", 1930, id="30-dash-is-1930"),
        pytest.param(date(2026, 11, 28), "-", 2026, id="today-is-this-century"),
        pytest.param(date(1926, 11, 29), "-", 1926, id="tomorrow-goes-back-a-century"),
        pytest.param(date(2000, 1, 1), "", 2000, id="00-plain-is-2000"),
        pytest.param(date(1925, 1, 1), "+", 1925, id="25-plus-is-1925"),
        pytest.param(date(1900, 1, 1), "+", 1900, id="00-plus-is-1900"),
        pytest.param(date(1926, 1, 1), "+", 1926, id="26-plus-is-1926"),
        pytest.param(date(1827, 1, 1), "+", 1827, id="27-plus-is-1827"),
    ],
)
def test_ten_digit_century(birth: date, sep: str, expected_year: int) -> None:
    p = make_personnummer(birth, 993)
    parsed = parse_personnummer(short(p, sep), today=TODAY)
    assert parsed.birth_date.year == expected_year
    assert parsed == p


def test_default_today_is_used() -> None:
    assert parse_personnummer(short(P)) == P


def test_properties() -> None:
    assert not P.is_samordningsnummer
    assert P.birth_date == date(1985, 7, 9)
    assert P.masked == "19850709-****"
    assert P.canonical() == KNOWN
    assert S.is_samordningsnummer
    assert S.birth_date == date(1985, 7, 9)
    assert S.masked == "19850769-****"
    assert S.canonical().startswith("19850769-983")


def test_equality_and_hash() -> None:
    assert Personnummer(P.digits) == P
    assert hash(P) == hash(Personnummer(P.digits))
    assert len({P, Personnummer(P.digits), S}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        P.digits = "x"  # type: ignore[misc]


# --- invalid input --------------------------------------------------------------------

FUTURE = mk(2026, 11, 29, 981)
FUTURE_S = mk(2027, 1, 5, 984, samordning=True)

INVALID: list[Any] = [
    pytest.param(bad_check(P.digits), "checksum", id="checksum-12"),
    pytest.param("", "empty", id="empty"),
    pytest.param("   \t\n", "empty", id="only-whitespace"),
    pytest.param(bad_check(short(P)), "checksum", id="checksum-10"),
    pytest.param(bad_check(S.canonical()), "checksum", id="checksum-samordning"),
    pytest.param(with_check("19850230982"), "date", id="feb-30"),
    pytest.param(with_check("19850229982"), "date", id="feb-29-non-leap"),
    pytest.param(with_check("19000229982"), "date", id="feb-29-1900"),
    pytest.param(
        with_check("000229982")[:6] + "+" + with_check("000229982")[6:],
        "date",
        id="feb-29-1900-via-plus",
    ),
    pytest.param(with_check("19851301982"), "date", id="month-13"),
    pytest.param(with_check("19850009982"), "date", id="month-00"),
    pytest.param(with_check("19850700982"), "date", id="day-00"),
    pytest.param(with_check("19850732982"), "date", id="day-32"),
    pytest.param(with_check("19850760982"), "date", id="samordning-day-60"),
    pytest.param(with_check("19850792982"), "date", id="samordning-day-92"),
    pytest.param(with_check("19850290982"), "date", id="samordning-feb-30"),
    pytest.param(with_check("850230982"), "date", id="feb-30-10-digit"),
    pytest.param(FUTURE.canonical(), "future", id="future-12"),
    pytest.param(FUTURE_S.digits, "future", id="future-samordning-12"),
    pytest.param(with_check("17850709982"), "format", id="century-17"),
    pytest.param(with_check("21050709982"), "format", id="century-21"),
    pytest.param(P.digits[:8] + "+" + P.digits[8:], "format", id="12-digit-with-plus"),
    pytest.param("19850709-98X1", "format", id="letter"),
    pytest.param("abcdefghij", "format", id="letters"),
    pytest.param(P.digits[:-1], "format", id="11-digits"),
    pytest.param(short(P, "")[:-1], "format", id="9-digits"),
    pytest.param(P.digits + "0", "format", id="13-digits"),
    pytest.param(P.digits * 3, "format", id="far-too-long"),
    pytest.param(short(P, "--"), "format", id="double-separator"),
    pytest.param(short(P, "  "), "format", id="double-space"),
    pytest.param(short(P, "/"), "format", id="slash-separator"),
    pytest.param(P.digits[:4] + "-" + P.digits[4:], "format", id="separator-misplaced"),
    pytest.param(
        short(P, "").translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
        "format",
        id="arabic-indic-digits",
    ),
    pytest.param(None, "format", id="none"),
    pytest.param(int(P.digits), "format", id="int"),
    pytest.param(P.digits.encode(), "format", id="bytes"),
]


@pytest.mark.parametrize(("value", "reason"), INVALID)
def test_parse_invalid(value: Any, reason: str) -> None:
    with pytest.raises(InvalidPersonnummer) as info:
        parse_personnummer(value, today=TODAY)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


def test_future_relative_to_today() -> None:
    assert parse_personnummer(FUTURE.canonical(), today=date(2026, 11, 29)) == FUTURE


@pytest.mark.parametrize(
    ("digits", "reason"),
    [
        pytest.param(P.digits[:-1], "format", id="short"),
        pytest.param(bad_check(P.digits), "checksum", id="checksum"),
        pytest.param(with_check("19850230982"), "date", id="date"),
        pytest.param(None, "format", id="none"),
    ],
)
def test_constructor_validates(digits: Any, reason: str) -> None:
    with pytest.raises(InvalidPersonnummer) as info:
        Personnummer(digits)
    assert info.value.reason == reason


def test_make_personnummer_rejects_bad_serial() -> None:
    for serial in (-1, 1000, True):
        with pytest.raises(ValueError):
            make_personnummer(date(1985, 7, 9), serial)


def test_luhn_check_digit_rejects_bad_input() -> None:
    for bad in ("", "12345678", "1234567890", "12345678x", 123456789):
        with pytest.raises(ValueError) as info:
            luhn_check_digit(bad)  # type: ignore[arg-type]
        assert not any(ch.isdigit() for ch in str(info.value))


def test_invalid_reason_rejected() -> None:
    with pytest.raises(ValueError):
        InvalidPersonnummer("198507099821")  # type: ignore[arg-type]


def test_exception_pickles_by_reason() -> None:
    exc = pickle.loads(pickle.dumps(InvalidPersonnummer("checksum")))
    assert exc.reason == "checksum"
    assert str(exc) == str(InvalidPersonnummer("checksum"))
    err = pickle.loads(pickle.dumps(PersonnummerDecryptError()))
    assert str(err) == str(PersonnummerDecryptError())


# --- property-based -------------------------------------------------------------------

births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@given(birth=births, serial=st.sampled_from(TEST_BIRTH_NUMBERS), samordning=st.booleans())
def test_roundtrip_all_forms(birth: date, serial: int, samordning: bool) -> None:
    p = make_personnummer(birth, serial, samordning=samordning)
    assert p.birth_date == birth
    assert p.is_samordningsnummer is samordning
    assert ref_luhn_ok(p.digits[2:])
    forms = [p.canonical(), p.digits, short(p, proper_sep(birth, TODAY))]
    # Without separator a 10-digit number means "under 100 (by date)".
    if (birth.year + 100, birth.month, birth.day) > (TODAY.year, TODAY.month, TODAY.day):
        forms.append(short(p, ""))
    for form in forms:
        assert parse_personnummer(form, today=TODAY) == p


@given(birth=births, serial=st.integers(0, 999), samordning=st.booleans())
def test_roundtrip_canonical_any_serial(birth: date, serial: int, samordning: bool) -> None:
    p = make_personnummer(birth, serial, samordning=samordning)
    assert parse_personnummer(p.canonical(), today=TODAY) == p


@given(data=st.data(), today=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_roundtrip_ten_digit_any_today(data: st.DataObject, today: date) -> None:
    birth = data.draw(st.dates(min_value=date(today.year - 199, 1, 1), max_value=today))
    p = make_personnummer(birth, data.draw(st.sampled_from(TEST_BIRTH_NUMBERS)))
    assert parse_personnummer(short(p, proper_sep(birth, today)), today=today) == p


@given(birth=births, serial=st.integers(0, 999), samordning=st.booleans())
def test_single_digit_change_never_gives_same(birth: date, serial: int, samordning: bool) -> None:
    p = make_personnummer(birth, serial, samordning=samordning)
    ten = short(p, proper_sep(birth, TODAY))
    for text in (p.digits, ten):
        for i, ch in enumerate(text):
            if not ch.isdigit():
                continue
            for new in "0123456789".replace(ch, ""):
                mutated = text[:i] + new + text[i + 1 :]
                try:
                    parsed = parse_personnummer(mutated, today=TODAY)
                except InvalidPersonnummer:
                    continue
                assert parsed != p
                # Luhn covers YYMMDDNNNC: only a century change can still be valid.
                assert text == p.digits and i < 2


@given(nine=st.text("0123456789", min_size=9, max_size=9))
def test_luhn_matches_reference(nine: str) -> None:
    check = luhn_check_digit(nine)
    assert ref_luhn_ok(nine + str(check))
    assert not any(ref_luhn_ok(nine + str(c)) for c in range(10) if c != check)


@given(birth=births, serial=st.integers(0, 999), samordning=st.booleans())
def test_vault_roundtrip(birth: date, serial: int, samordning: bool) -> None:
    p = make_personnummer(birth, serial, samordning=samordning)
    t1, t2 = VAULT.encrypt(p), VAULT.encrypt(p)
    assert t1 != t2
    assert p.digits.encode() not in t1
    assert VAULT.decrypt(t1) == VAULT.decrypt(t2) == p


@given(birth=births, serial=st.integers(0, 999))
def test_lookup_hash_deterministic_and_keyed(birth: date, serial: int) -> None:
    p = make_personnummer(birth, serial)
    h = VAULT.lookup_hash(p)
    assert h == VAULT.lookup_hash(p)
    assert len(h) == 64
    assert int(h, 16) >= 0
    assert h == hmac.new(LOOKUP_KEY, p.digits.encode(), hashlib.sha256).hexdigest()
    other = PersonnummerVault(encryption_key=ENC_KEY, lookup_key=PersonnummerVault.generate_key())
    assert other.lookup_hash(p) != h


# --- vault ----------------------------------------------------------------------------


def test_vault_bulk_matches_single() -> None:
    ps = [mk(1950 + i, 1 + i % 12, 1 + i % 28, 980 + i % 20) for i in range(50)]
    tokens = VAULT.encrypt_many(ps)
    assert len(set(tokens)) == len(ps)
    assert VAULT.decrypt_many(tokens) == ps
    assert [VAULT.decrypt(t) for t in tokens] == ps
    assert VAULT.lookup_hashes(ps) == [VAULT.lookup_hash(p) for p in ps]
    assert VAULT.encrypt_many([]) == []
    assert VAULT.lookup_hashes(iter(ps)) == VAULT.lookup_hashes(ps)


def test_vault_long_keys_work() -> None:
    vault = PersonnummerVault(encryption_key=b"e" * 100, lookup_key=b"l" * 100)
    assert vault.decrypt(vault.encrypt(P)) == P
    assert vault.lookup_hash(P) == hmac.new(b"l" * 100, P.digits.encode(), "sha256").hexdigest()


def test_vault_wrong_key_and_tampering() -> None:
    token = VAULT.encrypt(P)
    other = PersonnummerVault(
        encryption_key=PersonnummerVault.generate_key(), lookup_key=LOOKUP_KEY
    )
    bad_tokens = [
        b"",
        token[:-1],
        token[:13],
        b"\x02" + token[1:],
        token + b"\x00",
    ]
    bad_tokens += [token[:i] + bytes([token[i] ^ 1]) + token[i + 1 :] for i in range(len(token))]
    for bad in bad_tokens:
        with pytest.raises(PersonnummerDecryptError) as info:
            VAULT.decrypt(bad)
        assert info.value.__cause__ is None and info.value.__context__ is None
    with pytest.raises(PersonnummerDecryptError):
        other.decrypt(token)
    with pytest.raises(PersonnummerDecryptError):
        VAULT.decrypt(P.digits)  # type: ignore[arg-type]
    with pytest.raises(PersonnummerDecryptError):
        VAULT.decrypt_many([token, token[:-1]])


def test_vault_rejects_non_personnummer() -> None:
    with pytest.raises(TypeError):
        VAULT.encrypt(P.digits)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        VAULT.lookup_hash(P.digits)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("enc", "look"),
    [
        pytest.param(b"k" * 31, LOOKUP_KEY, id="short-encryption-key"),
        pytest.param(ENC_KEY, b"\x01" * 16, id="short-lookup-key"),
        pytest.param(ENC_KEY, b"", id="empty-lookup-key"),
        pytest.param("x" * 40, LOOKUP_KEY, id="str-key"),
        pytest.param(ENC_KEY, ENC_KEY, id="same-key-twice"),
    ],
)
def test_vault_rejects_bad_keys(enc: Any, look: Any) -> None:
    with pytest.raises(ValueError) as info:
        PersonnummerVault(encryption_key=enc, lookup_key=look)
    text = all_error_text(info.value)
    for key in (enc, look):
        if isinstance(key, bytes) and key:
            assert key.hex() not in text
            assert repr(key)[2:-1] not in text
    assert "x" * 40 not in text


def test_vault_does_not_show_or_pickle_keys() -> None:
    for text in (repr(VAULT), str(VAULT), f"{VAULT}", "%s" % VAULT):  # noqa: UP031
        for key in (ENC_KEY, LOOKUP_KEY):
            assert key.hex() not in text
            assert repr(key) not in text
            assert repr(key)[2:-1] not in text
    assert not hasattr(VAULT, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(VAULT)


def test_generate_key() -> None:
    k1, k2 = PersonnummerVault.generate_key(), PersonnummerVault.generate_key()
    assert isinstance(k1, bytes) and len(k1) == 32 and k1 != k2


@pytest.mark.slow
def test_vault_bulk_100k() -> None:
    """The bulk calls at a town's size (their speed: bench/demo.py and bench/sync.py)."""
    first = date(1930, 1, 1).toordinal()
    ps = [
        make_personnummer(date.fromordinal(first + i // 20), 980 + i % 20) for i in range(100_000)
    ]
    tokens = VAULT.encrypt_many(ps)
    hashes = VAULT.lookup_hashes(ps)
    assert len(tokens) == len(hashes) == len(set(hashes)) == 100_000
    assert hashes[:1000] == [VAULT.lookup_hash(p) for p in ps[:1000]]
    assert VAULT.decrypt_many(tokens[:1000]) == ps[:1000]


# --- leaks ----------------------------------------------------------------------------

LEAK_CASES: list[Any] = [
    pytest.param("", "empty", id="empty"),
    pytest.param(P.digits[:8] + "+" + P.digits[8:], "format", id="format-12-plus"),
    pytest.param(with_check("17850709982"), "format", id="format-century"),
    pytest.param("19850709-98X1", "format", id="format-letter"),
    pytest.param(P.digits + "7", "format", id="format-too-long"),
    pytest.param(with_check("19850230982"), "date", id="date-12"),
    pytest.param(with_check("850230982"), "date", id="date-10"),
    pytest.param(bad_check(P.digits), "checksum", id="checksum-12"),
    pytest.param(bad_check(short(P)), "checksum", id="checksum-10"),
    pytest.param(bad_check(short(P, "+")), "checksum", id="checksum-10-plus"),
    pytest.param(FUTURE.canonical(), "future", id="future-12"),
]


@pytest.mark.parametrize(("value", "reason"), LEAK_CASES)
def test_error_never_contains_input(value: str, reason: str) -> None:
    with pytest.raises(InvalidPersonnummer) as info:
        parse_personnummer(value, today=TODAY)
    exc = info.value
    assert exc.reason == reason
    assert exc.__cause__ is None and exc.__context__ is None
    assert exc.__suppress_context__
    assert not any(ch.isdigit() for ch in str(exc))
    assert not any(ch.isdigit() for arg in exc.args for ch in str(arg))
    text = all_error_text(exc)
    for form in sensitive_forms(value):
        assert form not in text


@pytest.mark.parametrize(("value", "reason"), LEAK_CASES)
def test_logged_exception_never_contains_input(
    value: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("telefoni.test")
    with caplog.at_level(logging.INFO):
        try:
            parse_personnummer(value, today=TODAY)
        except InvalidPersonnummer as exc:
            log.exception("import failed: %s", exc)
    assert "import failed" in caplog.text
    for form in sensitive_forms(value):
        assert form not in caplog.text


def test_error_from_within_except_block_hides_context() -> None:
    value = bad_check(P.digits)
    try:
        try:
            int("x" + value)  # an earlier error that does carry the number
        except ValueError:
            parse_personnummer(value, today=TODAY)
    except InvalidPersonnummer as exc:
        caught = exc
    assert caught.__suppress_context__
    text = "".join(traceback.format_exception(caught))
    for form in sensitive_forms(value):
        assert form not in text


def test_decrypt_error_never_contains_number() -> None:
    token = VAULT.encrypt(P)
    with pytest.raises(PersonnummerDecryptError) as info:
        VAULT.decrypt(token[:-1] + bytes([token[-1] ^ 0xFF]))
    text = all_error_text(info.value)
    assert not any(ch.isdigit() for ch in str(info.value))
    for form in sensitive_forms(P.canonical()):
        assert form not in text


@pytest.mark.parametrize("p", [P, S, OLD], ids=["plain", "samordning", "centenarian"])
def test_personnummer_text_is_masked(p: Personnummer) -> None:
    serial = p.digits[8:]
    texts = [
        repr(p),
        str(p),
        f"{p}",
        f"{p!r}",
        f"{p!s}",
        f"{p:>30}",
        "%s" % p,  # noqa: UP031
        "%r" % (p,),  # noqa: UP031
        "{:s}".format(p),  # noqa: UP032
        format(p),
        repr([p]),
        repr({"pnr": p}),
        repr((p, p)),
    ]
    assert repr(p) == f"Personnummer({p.masked})"
    assert str(p) == p.masked
    for text in texts:
        assert serial not in text
        assert p.digits[2:] not in text
        assert p.canonical() not in text
    assert dataclasses.fields(Personnummer)[0].repr is False


def test_invalid_constructor_does_not_leak() -> None:
    value = bad_check(P.digits)
    with pytest.raises(InvalidPersonnummer) as info:
        Personnummer(value)
    text = all_error_text(info.value)
    assert value not in text and value[2:] not in text
