"""Validation of an HR export's rows, over whole columns, in named steps."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any, Final

import numpy as np
import pandas as pd

from models.hr_export.checks import (
    _categories,
    _digits_key,
    _duplicated,
    _duplicated_keys,
    _none_if_empty,
    _parse_dates,
    _samordning,
    _unknown,
    _written_digits_key,
)
from models.hr_export.columns import (
    HR_EXPORT_COLUMNS,
    MAX_LENGTH,
    REQUIRED_FIELDS,
    _lengths,
    _text_column,
)
from models.hr_export.digests import Distinct
from models.hr_export.problems import Validated, _Problems
from models.hr_export.reasons import (
    REASON_TEXT,
    Reason,
    _code_detail,
    _date_detail,
    _personnummer_detail,
    _rows_listing,
    _too_long,
)
from models.personnummer import validate_personnummer_series

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}"
)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Columns checked for control characters; the others must match a strict format or a known code.
_FREE_TEXT: Final = frozenset(
    ("anstallningsnummer", "fornamn", "efternamn", "titel", "anvandarid", "besoksadress", "sokord")
)


def validate(
    rows: pd.DataFrame,
    *,
    known_units: Collection[str],
    known_cost_centres: Collection[str],
    known_employee_numbers: Collection[str] = (),
    today: date,
    trusted: np.ndarray | None = None,
    number_keys: np.ndarray | None = None,
    distinct: Mapping[str, Distinct] | None = None,
) -> Validated:
    """Check every row of an HR export (as :attr:`HrExport.rows`) over whole columns.

    A row with several problems gets one quarantine row per problem; every row is either in
    ``valid`` or has at least one quarantine row. All rows sharing an employee number (or a
    personnummer, or a user id) are quarantined: we can't know which one is right. A manager
    must be an employee number somewhere in the file or in ``known_employee_numbers``.

    ``trusted`` (bool per row) marks rows known to pass every check of their own values: rows
    that are, value for value, rows that passed before (only ``today`` moves, and a valid
    personnummer stays valid as it does; the caller makes sure 10-digit ones are not trusted,
    whose century depends on the day). They skip those checks, still get every check that
    looks beyond the row (their personnummer, duplicates, unit, cost centre, manager), and
    when they pass they are listed in ``trusted`` instead of ``valid``.

    ``number_keys`` (int per row) can stand in for the employee numbers when looking for
    duplicates: rows with the same key >= 0 have the same number, and a number with key -1
    has no other key (say, its position in an index of known numbers, -1 for unknown ones).
    Integers are counted; a million strings would be hashed.

    ``distinct``: :func:`distinct_values` of some columns, if already found (the units, cost
    centres and managers are looked up once per distinct value; those need not be found again).
    """
    absent = [c for c in HR_EXPORT_COLUMNS if c not in rows.columns]
    if absent:
        raise ValueError(f"rows lack columns: {', '.join(absent)}")
    n = len(rows)
    found = distinct or {}
    line = np.asarray(rows.index, dtype=np.int64)
    own = np.ones(n, dtype=bool) if trusted is None else ~np.asarray(trusted, dtype=bool)
    every_row = bool(own.all())
    checked = np.flatnonzero(own)  # rows whose own values are checked
    part = rows if every_row else rows.iloc[checked]
    text = {c: _text_column(rows[c]) for c in _BEYOND_THE_ROW}
    # The checked rows' values: views of `text` where all rows are checked.
    own_text = {
        c: (text[c] if every_row else text[c][checked]) if c in text else _text_column(part[c])
        for c in HR_EXPORT_COLUMNS
    }
    empty = {c: own_text[c] == "" for c in HR_EXPORT_COLUMNS}

    def spread(values: np.ndarray, fill: Any = False) -> np.ndarray:
        """Values of the checked rows, as a value per row (``fill`` for the others)."""
        if every_row:
            return values
        out = np.full(n, fill, dtype=values.dtype)
        out[checked] = values
        return out

    number = text["anstallningsnummer"]
    problems = _Problems(line, number)

    for column in HR_EXPORT_COLUMNS:
        values = own_text[column]
        if column in REQUIRED_FIELDS:
            problems.add(spread(empty[column]), column, Reason.MISSING)
        if column in _FREE_TEXT and not "".join(values).isprintable():  # rows only if it fails
            has = np.fromiter(map(_CONTROL.search, values), dtype=bool, count=len(values))
            problems.add(spread(has), column, Reason.CONTROL_CHARACTER)
        limit = MAX_LENGTH.get(column)
        if limit is not None:
            length = spread(_lengths(values), 0)
            problems.add(length > limit, column, Reason.TOO_LONG, _too_long(length, limit))

    # Personnummer: checked for every row but trusted ones written with the century (12 digits,
    # or 13 characters with a separator): those are valid as they were, only their digits are
    # needed (to find duplicates).
    pnr_text = text["personnummer"]
    pnr_checked = own.copy()
    if not every_row:
        trusted_rows = np.flatnonzero(~own)
        pnr_checked[trusted_rows] = ~np.isin(_lengths(pnr_text[trusted_rows]), (12, 13))
    where = np.flatnonzero(pnr_checked)
    digits_part, why = validate_personnummer_series(
        pd.Series(pnr_text[where], index=rows.index[where], dtype="str"), today=today
    )
    why_values = np.full(n, None, dtype=object)
    why_values[where] = why.to_numpy(dtype=object, na_value=None)
    digits = np.full(n, None, dtype=object)
    digits[where] = digits_part.to_numpy(dtype=object, na_value=None)
    pnr_key = np.zeros(n, dtype=np.int64)
    pnr_key[where] = _digits_key(digits_part)
    rest = np.flatnonzero(~pnr_checked)
    pnr_key[rest] = _written_digits_key(pnr_text[rest])
    problems.add(
        (pnr_text != "") & pd.notna(why_values),
        "personnummer",
        Reason.INVALID_PERSONNUMMER,
        _personnummer_detail(why_values),
    )

    email = own_text["epost"]
    has_email = np.flatnonzero(~empty["epost"])
    bad_email = np.zeros(len(checked), dtype=bool)
    if len(has_email):
        matched = np.fromiter(map(_EMAIL.fullmatch, email[has_email]), dtype=bool)
        bad_email[has_email] = ~matched
    problems.add(spread(bad_email), "epost", Reason.INVALID_EMAIL)

    start, start_ok, start_shaped = _parse_dates(own_text["anstallning_from"])
    end, end_ok, end_shaped = _parse_dates(own_text["anstallning_tom"])
    for column, ok, shaped in (
        ("anstallning_from", start_ok | empty["anstallning_from"], start_shaped),
        ("anstallning_tom", end_ok, end_shaped),
    ):
        problems.add(spread(~ok), column, Reason.INVALID_DATE, _date_detail(spread(shaped)))
    problems.add(
        spread(~np.isnat(start) & ~np.isnat(end) & (end < start)),
        "anstallning_tom",
        Reason.END_BEFORE_START,
    )

    category = own_text["behovskategori"]
    category_ok = empty["behovskategori"].copy()
    single = np.flatnonzero(_lengths(category) == 1)
    if len(single):
        points = np.asarray(category[single], dtype="<U1").view(np.uint32)
        category_ok[single] = (points >= ord("1")) & (points <= ord("3"))
    problems.add(spread(~category_ok), "behovskategori", Reason.INVALID_CATEGORY)
    for column, known, reason, noun in (
        ("organisationsenhet", known_units, Reason.UNKNOWN_UNIT, "organisationsenheten"),
        ("kostnadsstalle", known_cost_centres, Reason.UNKNOWN_COST_CENTRE, "kostnadsstället"),
    ):
        values = text[column]
        unknown = _unknown(values, known, distinct=found.get(column))
        problems.add(
            unknown,
            column,
            reason,
            _code_detail(values, f"{noun} {{code}} finns inte i registret", REASON_TEXT[reason]),
        )

    for column, key, reason, noun in (
        ("anstallningsnummer", number, Reason.DUPLICATE_EMPLOYEE_NUMBER, "anställningsnummer"),
        ("personnummer", pnr_key, Reason.DUPLICATE_PERSONNUMMER, "personnummer"),
        ("anvandarid", text["anvandarid"], Reason.DUPLICATE_USER_ID, "användar-id"),
    ):
        considered = key != ("" if key.dtype == object else 0)
        if column == "anstallningsnummer" and number_keys is not None:
            shared = _duplicated_keys(key, considered, np.asarray(number_keys, dtype=np.int64))
        else:
            shared = _duplicated(key, considered)
        problems.add(shared, column, reason, _rows_listing(line, key, noun))

    manager = text["chef_anstallningsnummer"]
    problems.add(
        _unknown(
            manager, known_employee_numbers, number, distinct=found.get("chef_anstallningsnummer")
        ),
        "chef_anstallningsnummer",
        Reason.UNKNOWN_MANAGER,
        _code_detail(
            manager,
            "chefens anställningsnummer {code} finns varken i filen eller i registret",
            REASON_TEXT[Reason.UNKNOWN_MANAGER],
        ),
    )

    quarantine = problems.table()
    passed = ~problems.bad
    ok = passed[checked]  # among the checked rows
    valid_index = pd.Index(line[checked][ok], dtype=np.int64, name="row")
    good_digits = digits[checked][ok]
    t = {c: own_text[c][ok] for c in HR_EXPORT_COLUMNS}
    valid = pd.DataFrame(
        {
            "employee_number": pd.Series(t["anstallningsnummer"], index=valid_index, dtype="str"),
            "personnummer": pd.Series(good_digits, index=valid_index, dtype="str"),
            "samordning": pd.Series(_samordning(good_digits), index=valid_index, dtype=bool),
            "first_name": pd.Series(t["fornamn"], index=valid_index, dtype="str"),
            "last_name": pd.Series(t["efternamn"], index=valid_index, dtype="str"),
            "email": _none_if_empty(t["epost"], valid_index),
            "title": _none_if_empty(t["titel"], valid_index),
            "user_id": _none_if_empty(t["anvandarid"], valid_index),
            "unit_code": pd.Series(t["organisationsenhet"], index=valid_index, dtype="str"),
            "cost_centre_code": pd.Series(t["kostnadsstalle"], index=valid_index, dtype="str"),
            "visiting_address": _none_if_empty(t["besoksadress"], valid_index),
            "manager_number": _none_if_empty(t["chef_anstallningsnummer"], valid_index),
            "keywords": _none_if_empty(t["sokord"], valid_index),
            "employment_start": pd.Series(start[ok], index=valid_index),
            "employment_end": pd.Series(end[ok], index=valid_index),
            "need_category": pd.Series(_categories(category[ok]), index=valid_index),
        },
        index=valid_index,
    )
    trusted_ok = pd.Index(line[~own & passed], dtype=np.int64, name="row")
    return Validated(valid=valid, quarantine=quarantine, trusted=trusted_ok)


# Columns checked across rows or against the register, for trusted rows too.
_BEYOND_THE_ROW: Final = (
    "anstallningsnummer",
    "personnummer",
    "anvandarid",
    "organisationsenhet",
    "kostnadsstalle",
    "chef_anstallningsnummer",
)
