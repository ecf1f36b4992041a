"""Validation of an HR export's rows, over whole columns, in named steps."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
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
# Columns checked across rows or against the register, for trusted rows too.
_BEYOND_THE_ROW: Final = (
    "anstallningsnummer",
    "personnummer",
    "anvandarid",
    "organisationsenhet",
    "kostnadsstalle",
    "chef_anstallningsnummer",
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
    columns = _columns(rows, trusted)
    found = distinct or {}
    problems = _Problems(columns.line, columns.text["anstallningsnummer"])
    # In this order: a row's problems with the same field are listed in the order found.
    _check_own_values(columns, problems)
    digits, personnummer_key = _check_personnummer(columns, problems, today)
    _check_email(columns, problems)
    start, end = _check_dates(columns, problems)
    _check_category(columns, problems)
    _check_codes(columns, problems, known_units, known_cost_centres, found)
    _check_duplicates(columns, problems, personnummer_key, number_keys)
    _check_manager(columns, problems, known_employee_numbers, found)

    quarantine = problems.table()
    passed = ~problems.bad
    ok = passed[columns.checked]  # among the checked rows
    valid = _valid_rows(columns, ok, digits[columns.checked][ok], start[ok], end[ok])
    trusted_ok = pd.Index(columns.line[~columns.own & passed], dtype=np.int64, name="row")
    return Validated(valid=valid, quarantine=quarantine, trusted=trusted_ok)


@dataclass(frozen=True, slots=True)
class _Columns:
    """The rows' values as text, and which rows have their own values checked."""

    index: pd.Index
    line: np.ndarray  # the rows' line numbers
    own: np.ndarray  # bool per row: its own values are checked (it is not trusted)
    every_row: bool
    checked: np.ndarray  # positions of the rows whose own values are checked
    text: dict[str, np.ndarray]  # _BEYOND_THE_ROW's columns, every row
    own_text: dict[str, np.ndarray]  # every column, the checked rows only
    empty: dict[str, np.ndarray]  # own_text == ""

    def spread(self, values: np.ndarray, fill: Any = False) -> np.ndarray:
        """Values of the checked rows, as a value per row (``fill`` for the others)."""
        if self.every_row:
            return values
        out = np.full(len(self.line), fill, dtype=values.dtype)
        out[self.checked] = values
        return out


def _columns(rows: pd.DataFrame, trusted: np.ndarray | None) -> _Columns:
    """The columns :func:`validate` looks at, each made text once."""
    absent = [c for c in HR_EXPORT_COLUMNS if c not in rows.columns]
    if absent:
        raise ValueError(f"rows lack columns: {', '.join(absent)}")
    n = len(rows)
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
    return _Columns(rows.index, line, own, every_row, checked, text, own_text, empty)


def _check_own_values(columns: _Columns, problems: _Problems) -> None:
    """Required fields, control characters and lengths, column by column."""
    for column in HR_EXPORT_COLUMNS:
        values = columns.own_text[column]
        if column in REQUIRED_FIELDS:
            problems.add(columns.spread(columns.empty[column]), column, Reason.MISSING)
        if column in _FREE_TEXT and not "".join(values).isprintable():  # rows only if it fails
            has = np.fromiter(map(_CONTROL.search, values), dtype=bool, count=len(values))
            problems.add(columns.spread(has), column, Reason.CONTROL_CHARACTER)
        limit = MAX_LENGTH.get(column)
        if limit is not None:
            length = columns.spread(_lengths(values), 0)
            problems.add(length > limit, column, Reason.TOO_LONG, _too_long(length, limit))


def _check_personnummer(
    columns: _Columns, problems: _Problems, today: date
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's personnummer as 12 digits (None where not valid or not checked) and as a key."""
    # Checked for every row but trusted ones written with the century (12 digits, or 13
    # characters with a separator): those are valid as they were, only their digits are
    # needed (to find duplicates).
    n = len(columns.line)
    pnr_text = columns.text["personnummer"]
    pnr_checked = columns.own.copy()
    if not columns.every_row:
        trusted_rows = np.flatnonzero(~columns.own)
        pnr_checked[trusted_rows] = ~np.isin(_lengths(pnr_text[trusted_rows]), (12, 13))
    where = np.flatnonzero(pnr_checked)
    digits_part, why = validate_personnummer_series(
        pd.Series(pnr_text[where], index=columns.index[where], dtype="str"), today=today
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
    return digits, pnr_key


def _check_email(columns: _Columns, problems: _Problems) -> None:
    """An e-mail address, where there is one, must look like one."""
    email = columns.own_text["epost"]
    has_email = np.flatnonzero(~columns.empty["epost"])
    bad_email = np.zeros(len(columns.checked), dtype=bool)
    if len(has_email):
        matched = np.fromiter(map(_EMAIL.fullmatch, email[has_email]), dtype=bool)
        bad_email[has_email] = ~matched
    problems.add(columns.spread(bad_email), "epost", Reason.INVALID_EMAIL)


def _check_dates(columns: _Columns, problems: _Problems) -> tuple[np.ndarray, np.ndarray]:
    """The employment's start and end (checked rows, datetime64[s], NaT where none or invalid)."""
    start, start_ok, start_shaped = _parse_dates(columns.own_text["anstallning_from"])
    end, end_ok, end_shaped = _parse_dates(columns.own_text["anstallning_tom"])
    for column, ok, shaped in (
        ("anstallning_from", start_ok | columns.empty["anstallning_from"], start_shaped),
        ("anstallning_tom", end_ok, end_shaped),
    ):
        problems.add(
            columns.spread(~ok), column, Reason.INVALID_DATE, _date_detail(columns.spread(shaped))
        )
    problems.add(
        columns.spread(~np.isnat(start) & ~np.isnat(end) & (end < start)),
        "anstallning_tom",
        Reason.END_BEFORE_START,
    )
    return start, end


def _check_category(columns: _Columns, problems: _Problems) -> None:
    """The need category is 1, 2, 3 or empty."""
    category = columns.own_text["behovskategori"]
    category_ok = columns.empty["behovskategori"].copy()
    single = np.flatnonzero(_lengths(category) == 1)
    if len(single):
        points = np.asarray(category[single], dtype="<U1").view(np.uint32)
        category_ok[single] = (points >= ord("1")) & (points <= ord("3"))
    problems.add(columns.spread(~category_ok), "behovskategori", Reason.INVALID_CATEGORY)


def _check_codes(
    columns: _Columns,
    problems: _Problems,
    known_units: Collection[str],
    known_cost_centres: Collection[str],
    found: Mapping[str, Distinct],
) -> None:
    """The unit and the cost centre are in the register."""
    for column, known, reason, noun in (
        ("organisationsenhet", known_units, Reason.UNKNOWN_UNIT, "organisationsenheten"),
        ("kostnadsstalle", known_cost_centres, Reason.UNKNOWN_COST_CENTRE, "kostnadsstället"),
    ):
        values = columns.text[column]
        unknown = _unknown(values, known, distinct=found.get(column))
        problems.add(
            unknown,
            column,
            reason,
            _code_detail(values, f"{noun} {{code}} finns inte i registret", REASON_TEXT[reason]),
        )


def _check_duplicates(
    columns: _Columns,
    problems: _Problems,
    personnummer_key: np.ndarray,
    number_keys: np.ndarray | None,
) -> None:
    """No two rows share an employee number, a personnummer or a user id."""
    number = columns.text["anstallningsnummer"]
    for column, key, reason, noun in (
        ("anstallningsnummer", number, Reason.DUPLICATE_EMPLOYEE_NUMBER, "anställningsnummer"),
        ("personnummer", personnummer_key, Reason.DUPLICATE_PERSONNUMMER, "personnummer"),
        ("anvandarid", columns.text["anvandarid"], Reason.DUPLICATE_USER_ID, "användar-id"),
    ):
        considered = key != ("" if key.dtype == object else 0)
        if column == "anstallningsnummer" and number_keys is not None:
            shared = _duplicated_keys(key, considered, np.asarray(number_keys, dtype=np.int64))
        else:
            shared = _duplicated(key, considered)
        problems.add(shared, column, reason, _rows_listing(columns.line, key, noun))


def _check_manager(
    columns: _Columns,
    problems: _Problems,
    known_employee_numbers: Collection[str],
    found: Mapping[str, Distinct],
) -> None:
    """The manager is an employee number in the file or in the register."""
    manager = columns.text["chef_anstallningsnummer"]
    problems.add(
        _unknown(
            manager,
            known_employee_numbers,
            columns.text["anstallningsnummer"],
            distinct=found.get("chef_anstallningsnummer"),
        ),
        "chef_anstallningsnummer",
        Reason.UNKNOWN_MANAGER,
        _code_detail(
            manager,
            "chefens anställningsnummer {code} finns varken i filen eller i registret",
            REASON_TEXT[Reason.UNKNOWN_MANAGER],
        ),
    )


def _valid_rows(
    columns: _Columns, ok: np.ndarray, digits: np.ndarray, start: np.ndarray, end: np.ndarray
) -> pd.DataFrame:
    """The checked rows that passed (``ok`` among them), as :attr:`Validated.valid`."""
    index = pd.Index(columns.line[columns.checked][ok], dtype=np.int64, name="row")
    t = {c: columns.own_text[c][ok] for c in HR_EXPORT_COLUMNS}

    def text(column: str) -> pd.Series:
        return pd.Series(t[column], index=index, dtype="str")

    def optional(column: str) -> pd.Series:
        return _none_if_empty(t[column], index)

    return pd.DataFrame(
        {
            "employee_number": text("anstallningsnummer"),
            "personnummer": pd.Series(digits, index=index, dtype="str"),
            "samordning": pd.Series(_samordning(digits), index=index, dtype=bool),
            "first_name": text("fornamn"),
            "last_name": text("efternamn"),
            "email": optional("epost"),
            "title": optional("titel"),
            "user_id": optional("anvandarid"),
            "unit_code": text("organisationsenhet"),
            "cost_centre_code": text("kostnadsstalle"),
            "visiting_address": optional("besoksadress"),
            "manager_number": optional("chef_anstallningsnummer"),
            "keywords": optional("sokord"),
            "employment_start": pd.Series(start, index=index),
            "employment_end": pd.Series(end, index=index),
            "need_category": pd.Series(_categories(t["behovskategori"]), index=index),
        },
        index=index,
    )
