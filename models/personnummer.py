"""Swedish personal identity number (personnummer): validation, masking and encryption.

The number is sensitive. Nothing in this module puts it into an exception message, a
repr, str or format output; every error is raised with a fixed text and without a chained
cause. Call :meth:`Personnummer.canonical` only where the clear value is really needed.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Final, Literal, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "TEST_BIRTH_NUMBERS",
    "InvalidPersonnummer",
    "Personnummer",
    "PersonnummerDecryptError",
    "PersonnummerVault",
    "Reason",
    "luhn_check_digit",
    "make_personnummer",
    "parse_personnummer",
    "validate_personnummer_series",
]

Reason = Literal["empty", "format", "date", "checksum", "future"]

_MESSAGES: Final[dict[str, str]] = {
    "empty": "ogiltigt personnummer: värdet är tomt",
    "format": "ogiltigt personnummer: fel format (ÅÅMMDD-NNNN eller ÅÅÅÅMMDD-NNNN)",
    "date": "ogiltigt personnummer: datumet finns inte",
    "checksum": "ogiltigt personnummer: kontrollsiffran stämmer inte",
    "future": "ogiltigt personnummer: födelsedatumet ligger i framtiden",
}

#: Birth numbers (NNN) Skatteverket keeps for test numbers; use them for fictional data.
TEST_BIRTH_NUMBERS: Final = range(980, 1000)

_SAMORDNING_OFFSET: Final = 60
_TWELVE = re.compile(r"[0-9]{12}")
_NINE = re.compile(r"[0-9]{9}")
# Optional century, YYMMDD, optional separator ('-', '+' or one space), NNNC.
_INPUT = re.compile(r"(?P<cc>[0-9]{2})?(?P<yymmdd>[0-9]{6})(?P<sep>[-+ ]?)(?P<nnnc>[0-9]{4})")
_MAX_INPUT_LEN: Final = 13
_VALID_CENTURIES: Final = frozenset({"18", "19", "20"})
_DAYS_IN_MONTH: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_LUHN_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # digit sum of 2*d


class InvalidPersonnummer(ValueError):
    """The value is not a valid personnummer; ``reason`` says why, the text never holds it."""

    reason: Reason

    def __init__(self, reason: Reason) -> None:
        if reason not in _MESSAGES:
            raise ValueError("unknown InvalidPersonnummer reason") from None
        super().__init__(_MESSAGES[reason])
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidPersonnummer], tuple[Reason]]:
        return (type(self), (self.reason,))


class PersonnummerDecryptError(Exception):
    """A token could not be decrypted (wrong key, tampered or truncated)."""

    def __init__(self) -> None:
        super().__init__("personnummer kunde inte dekrypteras (fel nyckel eller ändrad data)")

    def __reduce__(self) -> tuple[type[PersonnummerDecryptError], tuple[()]]:
        return (type(self), ())


def _fail(reason: Reason) -> NoReturn:
    raise InvalidPersonnummer(reason) from None


def _date_exists(year: int, month: int, day: int) -> bool:
    if not (1 <= year <= 9999 and 1 <= month <= 12 and day >= 1):
        return False
    return day <= _DAYS_IN_MONTH[month] or (month == 2 and day == 29 and calendar.isleap(year))


def _real_day(written_day: int) -> int:
    return written_day - _SAMORDNING_OFFSET if written_day > _SAMORDNING_OFFSET else written_day


def _luhn(nine_digits: str) -> int:
    total = 0
    for ch in nine_digits[1::2]:
        total += ord(ch) - 48
    for ch in nine_digits[0::2]:
        total += _LUHN_DOUBLED[ord(ch) - 48]
    return -total % 10


def luhn_check_digit(nine_digits: str) -> int:
    """Check digit (Luhn, weights 2-1-2-…) for the nine digits YYMMDDNNN."""
    if not isinstance(nine_digits, str) or _NINE.fullmatch(nine_digits) is None:
        raise ValueError("luhn_check_digit expects exactly nine ASCII digits") from None
    return _luhn(nine_digits)


def _problem(digits: object) -> Reason | None:
    """Why ``digits`` is not a valid YYYYMMDDNNNC, or None if it is."""
    if not isinstance(digits, str) or _TWELVE.fullmatch(digits) is None:
        return "format"
    year, month, day = int(digits[:4]), int(digits[4:6]), _real_day(int(digits[6:8]))
    if not _date_exists(year, month, day):
        return "date"
    if _luhn(digits[2:11]) != ord(digits[11]) - 48:
        return "checksum"
    return None


@dataclass(frozen=True, slots=True)
class Personnummer:
    """A valid personnummer as 12 digits YYYYMMDDNNNC (day as written: +60 if samordning).

    repr/str/format show only the masked form; use :meth:`canonical` for the clear value.
    """

    digits: str = field(repr=False)

    def __post_init__(self) -> None:
        reason = _problem(self.digits)
        if reason is not None:
            _fail(reason)

    @classmethod
    def _trusted(cls, digits: str) -> Personnummer:
        """Build from digits already checked by the caller (skips re-validation)."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "digits", digits)
        return obj

    @property
    def is_samordningsnummer(self) -> bool:
        """True for a coordination number (day of month + 60)."""
        return int(self.digits[6:8]) > _SAMORDNING_OFFSET

    @property
    def birth_date(self) -> date:
        """Date of birth (the real day for a samordningsnummer)."""
        d = self.digits
        return date(int(d[:4]), int(d[4:6]), _real_day(int(d[6:8])))

    @property
    def masked(self) -> str:
        """``YYYYMMDD-****`` with the date part as written."""
        return f"{self.digits[:8]}-****"

    def canonical(self) -> str:
        """The clear value ``YYYYMMDD-NNNC``; only where it is really needed (e.g. HR export)."""
        return f"{self.digits[:8]}-{self.digits[8:]}"

    def __repr__(self) -> str:
        return f"Personnummer({self.masked})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, format_spec: str) -> str:
        return format(self.masked, format_spec)


def _resolve_year(yy: int, month: int, day: int, *, plus: bool, today: date) -> int:
    """Full year for a 10-digit number.

    '-' or none: the latest year ending in ``yy`` whose date is not after ``today``.
    '+': the person turns 100 this year or earlier (folkbokföringslagen 18 §), i.e. the
    latest year ending in ``yy`` that is at most ``today.year - 100``.
    """
    if plus:
        base = today.year - 100
        return base - (base - yy) % 100
    year = today.year - (today.year - yy) % 100
    if (year, month, day) > (today.year, today.month, today.day):
        year -= 100
    return year


def parse_personnummer(value: str, *, today: date | None = None) -> Personnummer:
    """Parse ``YYMMDD-NNNC``, ``YYMMDD+NNNC``, ``YYMMDDNNNC``, ``YYYYMMDD-NNNC`` or
    ``YYYYMMDDNNNC`` (a single space also works as separator; outer whitespace ignored).

    Raises :class:`InvalidPersonnummer` with reason empty/format/date/checksum/future.
    """
    if not isinstance(value, str):
        _fail("format")
    text = value.strip()
    if not text:
        _fail("empty")
    match = _INPUT.fullmatch(text) if len(text) <= _MAX_INPUT_LEN else None
    if match is None:
        _fail("format")
    cc, yymmdd, sep, nnnc = match.group("cc", "yymmdd", "sep", "nnnc")
    today = date.today() if today is None else today
    month, day = int(yymmdd[2:4]), _real_day(int(yymmdd[4:6]))
    if cc is None:
        year = _resolve_year(int(yymmdd[:2]), month, day, plus=sep == "+", today=today)
        if not 1 <= year <= 9999:
            _fail("date")
        digits = f"{year:04d}{yymmdd[2:]}{nnnc}"
    else:
        if sep == "+" or cc not in _VALID_CENTURIES:
            _fail("format")
        year = int(cc + yymmdd[:2])
        digits = cc + yymmdd + nnnc
    pnr = Personnummer(digits)  # raises "date" / "checksum"
    if (year, month, day) > (today.year, today.month, today.day):
        _fail("future")
    return pnr


def validate_personnummer_series(values: pd.Series, *, today: date) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`parse_personnummer` over a whole column.

    Returns ``(digits, reason)``, both ``string`` Series on ``values.index``: the 12 digits
    YYYYMMDDNNNC (as :attr:`Personnummer.digits`) or ``<NA>``, and the reason
    (empty/format/date/checksum/future, as :class:`InvalidPersonnummer`) or ``<NA>``. Accepts
    and rejects exactly what :func:`parse_personnummer` does with the same ``today``; a value
    that is not a string (None, NaN, a number) is "format", as it is there.
    """
    import numpy as np
    import pandas as pd

    n = len(values)
    index = values.index
    digits_out = np.full(n, None, dtype=object)
    reason_out = np.full(n, None, dtype=object)
    objects = values.to_numpy(dtype=object)
    if isinstance(values.dtype, pd.StringDtype):
        is_str = values.notna().to_numpy(dtype=bool)
    elif pd.api.types.infer_dtype(values, skipna=False) == "string":
        is_str = np.ones(n, dtype=bool)
    else:  # mixed input (None, numbers): per-element type check, never taken for text columns
        is_str = np.fromiter(map(isinstance, objects, [str] * n), dtype=bool, count=n)
    if not is_str.all():
        objects = np.where(is_str, objects, "")
    # str.strip and len through map(): the same per-element C calls pandas' .str makes, without
    # its per-element Python wrapper (three times faster on a million rows).
    stripped = np.fromiter(map(str.strip, objects), dtype=object, count=n)
    length = np.fromiter(map(len, stripped), dtype=np.int64, count=n)
    reason_out[~is_str] = "format"
    reason_out[is_str & (length == 0)] = "empty"
    reason_out[is_str & (length > 0)] = "format"  # until a layout below matches
    where = np.flatnonzero(is_str & (length >= 10) & (length <= _MAX_INPUT_LEN))
    if len(where):
        reason_part, digits_part = _check_candidates(stripped[where], length[where], today)
        reason_out[where] = reason_part
        digits_out[where] = digits_part
    return (
        pd.Series(digits_out, index=index, dtype="string"),
        pd.Series(reason_out, index=index, dtype="string"),
    )


# Where YYMMDD, the separator and NNNC sit, by length of the matched text.
_LAYOUTS: Final = {10: (0, None, 6), 11: (0, 6, 7), 12: (2, None, 8), 13: (2, 8, 9)}
_REASON_CODES: Final[tuple[Reason | None, ...]] = (None, "format", "date", "checksum", "future")


def _check_candidates(texts: object, length: object, today: date) -> tuple[object, object]:
    """Reasons and digits for stripped texts of 10–13 characters (numpy, no loop over rows).

    The layout checks are :data:`_INPUT` spelled out: 10 and 12 characters are all digits,
    11 and 13 have one separator ('-', '+' or space) before the last four digits.
    """
    import numpy as np

    lengths = np.asarray(length)
    m = len(lengths)
    ten, cc, plus, shaped = _read_layouts(texts, lengths)
    has_cc = lengths >= 12
    yy = ten[:, 0] * 10 + ten[:, 1]
    month = ten[:, 2] * 10 + ten[:, 3]
    written_day = ten[:, 4] * 10 + ten[:, 5]
    day = np.where(written_day > _SAMORDNING_OFFSET, written_day - _SAMORDNING_OFFSET, written_day)
    today_key = today.year * 10000 + today.month * 100 + today.day
    # _resolve_year, both branches at once (month and day are 0–99: the keys order like tuples)
    base = today.year - 100
    year_plus = base - (base - yy) % 100
    year_dash = today.year - (today.year - yy) % 100
    year_dash -= 100 * (year_dash * 10000 + month * 100 + day > today_key)
    year = np.where(has_cc, cc * 100 + yy, np.where(plus, year_plus, year_dash)).astype(np.int64)

    bad_format = has_cc & (plus | ~np.isin(cc, [18, 19, 20]))
    bad_year = ~has_cc & ((year < 1) | (year > 9999))
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = np.asarray(_DAYS_IN_MONTH, dtype=np.int32)[np.clip(month, 0, 12)]
    date_ok = (
        (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & ((day <= month_days) | ((month == 2) & (day == 29) & leap))
    )
    doubled = np.asarray(_LUHN_DOUBLED, dtype=np.int32)[ten[:, 0:9:2]].sum(axis=1)
    bad_check = -(doubled + ten[:, 1:9:2].sum(axis=1)) % 10 != ten[:, 9]
    future = year * 10000 + month * 100 + day > today_key

    code = np.zeros(m, dtype=np.int8)  # the first failing check wins, as in the scalar parser
    checks = (~shaped | bad_format, bad_year | ~date_ok, bad_check, future)
    for number, failed in enumerate(checks, 1):
        code[(code == 0) & failed] = number
    reason = np.asarray(_REASON_CODES, dtype=object)[code]
    return reason, _twelve_digits(year, ten, code == 0)


def _read_layouts(
    texts: object, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per text: its YYMMDDNNNC as digits, its century (0 if none), whether its separator is
    '+', and whether it has one of the layouts at all (the rest is zeros where it has not)."""
    import numpy as np

    m = len(lengths)
    points = np.asarray(texts, dtype=f"<U{_MAX_INPUT_LEN}").view(np.uint32)
    codes = points.reshape(m, _MAX_INPUT_LEN)  # code points
    ten = np.zeros((m, 10), dtype=np.int32)  # YYMMDDNNNC
    cc = np.zeros(m, dtype=np.int32)
    plus = np.zeros(m, dtype=bool)
    shaped = np.zeros(m, dtype=bool)
    separators = np.asarray([ord("-"), ord("+"), ord(" ")], dtype=np.uint32)
    for size, (head, sep, tail) in _LAYOUTS.items():
        rows = np.flatnonzero(lengths == size)
        if not len(rows):
            continue
        value = codes[rows, :size] - np.uint32(48)  # wraps below '0': < 10 only for digits
        digit = value < 10
        if sep is None:
            good = digit.all(axis=1)
        else:
            good = digit[:, :sep].all(axis=1) & digit[:, sep + 1 :].all(axis=1)
            good &= np.isin(codes[rows, sep], separators)
        rows, value = rows[good], value[good].astype(np.int32)
        shaped[rows] = True
        ten[rows, :6] = value[:, head : head + 6]
        ten[rows, 6:] = value[:, tail : tail + 4]
        if sep is not None:
            plus[rows] = value[:, sep] == ord("+") - 48
        if head:
            cc[rows] = value[:, 0] * 10 + value[:, 1]
    return ten, cc, plus, shaped


def _twelve_digits(year: np.ndarray, ten: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """YYYYMMDDNNNC as text where ``ok``, None elsewhere."""
    import numpy as np

    good_year = year[ok]
    twelve = np.empty((int(ok.sum()), 12), dtype=np.uint32)
    twelve[:, 0] = good_year // 1000
    twelve[:, 1] = good_year // 100 % 10
    twelve[:, 2] = good_year // 10 % 10
    twelve[:, 3] = good_year % 10
    twelve[:, 4:] = ten[ok, 2:]
    twelve += 48
    out = np.full(len(ok), None, dtype=object)
    out[ok] = twelve.view("<U12").ravel()
    return out


def make_personnummer(birth: date, serial: int, *, samordning: bool = False) -> Personnummer:
    """Build a valid number for ``birth`` with birth number ``serial`` (0–999).

    For fictional test/demo data use serials in :data:`TEST_BIRTH_NUMBERS` (980–999), the
    series Skatteverket keeps for test numbers.
    """
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= 999:
        raise ValueError("serial must be an int in 0–999") from None
    day = birth.day + _SAMORDNING_OFFSET if samordning else birth.day
    head = f"{birth.year:04d}{birth.month:02d}{day:02d}{serial:03d}"
    return Personnummer(f"{head}{_luhn(head[2:])}")


_TOKEN_VERSION: Final = b"\x01"
_NONCE_LEN: Final = 12
_TAG_LEN: Final = 16
_HEADER_LEN: Final = len(_TOKEN_VERSION) + _NONCE_LEN
_MIN_KEY_LEN: Final = 32
_HKDF_INFO: Final = b"telefoni/personnummer/aes-256-gcm/v1"


def _check_key(key: object, name: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) < _MIN_KEY_LEN:
        raise ValueError(f"{name} must be at least {_MIN_KEY_LEN} bytes") from None
    return bytes(key)


class PersonnummerVault:
    """Encrypts personnummer (AES-256-GCM, random nonce) and makes keyed lookup hashes.

    Token: version byte 0x01 | 12-byte nonce | ciphertext+tag (AAD = version byte). The AES
    key is derived from ``encryption_key`` with HKDF-SHA256; ``lookup_hash`` is
    HMAC-SHA256(lookup_key, 12 digits) as 64 hex chars. The vault cannot be pickled.
    """

    __slots__ = ("_aead", "_hmac_inner", "_hmac_outer")

    def __init__(self, *, encryption_key: bytes, lookup_key: bytes) -> None:
        enc = _check_key(encryption_key, "encryption_key")
        look = _check_key(lookup_key, "lookup_key")
        if hmac.compare_digest(enc, look):
            raise ValueError("encryption_key and lookup_key must differ") from None
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
        self._aead = AESGCM(hkdf.derive(enc))
        # HMAC (RFC 2104) with the padded key hashed once; each hash copies these states.
        block = hashlib.sha256().block_size
        padded = (hashlib.sha256(look).digest() if len(look) > block else look).ljust(block, b"\0")
        self._hmac_inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._hmac_outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    @staticmethod
    def generate_key() -> bytes:
        """32 random bytes, for either key."""
        return os.urandom(_MIN_KEY_LEN)

    def __repr__(self) -> str:
        return "PersonnummerVault(keys=<hidden>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("PersonnummerVault cannot be pickled")

    def encrypt(self, p: Personnummer) -> bytes:
        """Randomized token for ``p``; two encryptions of the same number differ."""
        return self.encrypt_many((p,))[0]

    def encrypt_many(self, ps: Iterable[Personnummer]) -> list[bytes]:
        """Bulk :meth:`encrypt` (one key object, one urandom call)."""
        items = list(ps)
        nonces = os.urandom(_NONCE_LEN * len(items))
        enc, version = self._aead.encrypt, _TOKEN_VERSION
        out: list[bytes] = []
        append = out.append
        for i, p in enumerate(items):
            if not isinstance(p, Personnummer):
                raise TypeError("expected a Personnummer") from None
            nonce = nonces[i * _NONCE_LEN : (i + 1) * _NONCE_LEN]
            append(version + nonce + enc(nonce, p.digits.encode("ascii"), version))
        return out

    def decrypt(self, token: bytes) -> Personnummer:
        """Inverse of :meth:`encrypt`; :class:`PersonnummerDecryptError` if it fails."""
        return self.decrypt_many((token,))[0]

    def decrypt_many(self, tokens: Iterable[bytes]) -> list[Personnummer]:
        """Bulk :meth:`decrypt`."""
        dec, version = self._aead.decrypt, _TOKEN_VERSION
        out: list[Personnummer] = []
        for token in tokens:
            plain: bytes | None = None
            if (
                isinstance(token, bytes)
                and len(token) >= _HEADER_LEN + _TAG_LEN
                and token[:1] == version
            ):
                try:
                    plain = dec(token[1:_HEADER_LEN], token[_HEADER_LEN:], version)
                except InvalidTag:
                    plain = None
            digits = plain.decode("ascii") if plain is not None and plain.isdigit() else ""
            if _problem(digits) is not None:  # raised outside the except: no chained cause
                raise PersonnummerDecryptError() from None
            out.append(Personnummer._trusted(digits))
        return out

    def lookup_hash(self, p: Personnummer) -> str:
        """Deterministic keyed hash (64 hex chars) for unique lookups."""
        return self.lookup_hashes((p,))[0]

    def lookup_hashes(self, ps: Iterable[Personnummer]) -> list[str]:
        """Bulk :meth:`lookup_hash`."""
        inner, outer = self._hmac_inner, self._hmac_outer
        out: list[str] = []
        for p in ps:
            if not isinstance(p, Personnummer):
                raise TypeError("expected a Personnummer") from None
            h = inner.copy()
            h.update(p.digits.encode("ascii"))
            o = outer.copy()
            o.update(h.digest())
            out.append(o.hexdigest())
        return out
