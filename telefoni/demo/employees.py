"""The town's people: where each works and for whom, names, ids, personnummer, employment.

Every personnummer uses a birth number in Skatteverket's test series 980–999.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from models.personnummer import TEST_BIRTH_NUMBERS
from telefoni.demo import names
from telefoni.demo.frames import nullable_ids, numbered
from telefoni.demo.organisation import FORVALTNINGAR, OFFICE_STAFF
from telefoni.demo.places import Place

BIRTH_FIRST: Final = np.datetime64("1955-01-01", "D")
BIRTH_LAST: Final = np.datetime64("2006-12-31", "D")
SERIALS: Final = np.arange(TEST_BIRTH_NUMBERS.start, TEST_BIRTH_NUMBERS.stop)
#: Most employees the usual layout gives distinct personnummer (dates x 20 birth numbers);
#: towns up to this size are drawn exactly as they always were.
USUAL_SLOTS: Final = (int((BIRTH_LAST - BIRTH_FIRST).astype(int)) + 1) * len(SERIALS)
# Bigger towns (benchmarks): a wider birth window, and every (date, birth number) also as a
# samordningsnummer (day + 60), still with birth numbers 980–999 only.
WIDE_BIRTH_FIRST: Final = np.datetime64("1935-01-01", "D")
WIDE_BIRTH_LAST: Final = np.datetime64("2008-12-31", "D")
#: Most employees a town can have: distinct (date, birth number, samordning) slots.
MAX_EMPLOYEES: Final = (
    (int((WIDE_BIRTH_LAST - WIDE_BIRTH_FIRST).astype(int)) + 1) * len(SERIALS) * 2
)

SAMORDNING_SHARE: Final = 0.005
FIXED_TERM_SHARE: Final = 0.03


def draw_employees(
    rng: np.random.Generator, units: pd.DataFrame, n: int, today: np.datetime64, town: Place
) -> pd.DataFrame:
    """People, managers before their reports: kommundirektör, förvaltningschefer, enhetschefer."""
    # The draws come in a fixed order: the same seed gives the same town.
    unit_row, is_chef, manager_row = _placement(rng, units, n)
    title = _titles(rng, units, unit_row, is_chef)
    keywords = pd.Series(units["keywords"].to_numpy()[unit_row]) + ", " + title.str.lower()
    first, last = _names(rng, n)
    fold_first, fold_last = first.map(_fold), last.map(_fold)
    user_id = town.user_id_prefix + _user_ids(rng, fold_first, fold_last)
    pnr, birth, samordning = _personnummer(rng, n)
    start_date, end_date, fixed_term = _employment(rng, birth, today, ~is_chef)
    category = _need_categories(rng, is_chef)
    employee_no = _employee_numbers(rng, start_date)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "employee_number": "A" + pd.Series(employee_no).astype(str).str.zfill(6),
            "first_name": first,
            "last_name": last,
            "personnummer": pnr,
            "is_samordningsnummer": samordning,
            "email": _emails(fold_first, fold_last, town.mail_domain),
            "title": title,
            "user_id": user_id,
            "unit_id": unit_row + 1,
            "cost_centre_id": unit_row + 1,
            "visiting_address": units["visiting_address"].to_numpy()[unit_row],
            "keywords": keywords,
            "manager_id": nullable_ids(manager_row),
            "employment_start": pd.Series(start_date).dt.date.astype(object),
            "employment_end": pd.Series(end_date).dt.date.astype(object).where(fixed_term, None),
            "need_category": category,
        }
    )


def _placement(
    rng: np.random.Generator, units: pd.DataFrame, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each person's unit row, whether they lead it, and their manager's row (-1: none).

    The first person of each unit leads it: its manager is the chef of the parent unit.
    """
    n_units = len(units)
    n_chefs = min(n, n_units)
    weights = units["size"].to_numpy()
    unit_row = np.concatenate(
        [np.arange(n_chefs), rng.choice(n_units, size=n - n_chefs, p=weights / weights.sum())]
    )
    is_chef = np.arange(n) < n_chefs
    chef_of_unit = np.full(n_units, -1)
    chef_of_unit[:n_chefs] = np.arange(n_chefs)
    parent = units["parent"].to_numpy()
    manager_row = np.where(
        is_chef,
        np.where(parent[unit_row] >= 0, chef_of_unit[np.maximum(parent[unit_row], 0)], 0),
        chef_of_unit[unit_row],
    )
    manager_row[0] = -1  # the kommundirektör
    return unit_row, is_chef, manager_row


def _titles(
    rng: np.random.Generator, units: pd.DataFrame, unit_row: np.ndarray, is_chef: np.ndarray
) -> pd.Series:
    """A chef has the unit's chef title; staff get one drawn from their kind of unit."""
    n = len(unit_row)
    template = units["template"].to_numpy()[unit_row]
    forvaltning = units["forvaltning"].to_numpy()[unit_row]
    title = np.empty(n, dtype=object)
    title[is_chef] = units["chef_title"].to_numpy()[unit_row[is_chef]]
    staff = ~is_chef
    kinds = zip(forvaltning[staff].tolist(), template[staff].tolist(), strict=True)
    for fi, tmpl in sorted(set(kinds)):
        mask = staff & (forvaltning == fi) & (template == tmpl)
        pool = OFFICE_STAFF if tmpl < 0 else FORVALTNINGAR[fi].templates[tmpl].titles
        p = np.array([w for _, w in pool])
        title[mask] = np.array([t for t, _ in pool], dtype=object)[
            rng.choice(len(pool), size=int(mask.sum()), p=p / p.sum())
        ]
    return pd.Series(title, dtype=str)


def _names(rng: np.random.Generator, n: int) -> tuple[pd.Series, pd.Series]:
    """First names and surnames, the common ones more often."""
    first = np.array(names.FIRST_NAMES, dtype=object)[_zipf_choice(rng, names.FIRST_NAMES, n)]
    last = np.array(names.LAST_NAMES, dtype=object)[_zipf_choice(rng, names.LAST_NAMES, n)]
    return pd.Series(first, dtype=str), pd.Series(last, dtype=str)


def _zipf_choice(rng: np.random.Generator, pool: Sequence[str], size: int) -> np.ndarray:
    weights = 1.0 / (np.arange(len(pool)) + 8.0)
    picks: np.ndarray = rng.choice(len(pool), size=size, p=weights / weights.sum())
    return picks


def _fold(value: str) -> str:
    """ASCII for e-mail addresses and user ids: å→a, ä→a, ö→o, é→e …"""
    plain = unicodedata.normalize("NFKD", value.lower().replace("ø", "o").replace("æ", "ae"))
    return "".join(c for c in plain if c.isascii() and (c.isalnum() or c in "-."))


def _emails(fold_first: pd.Series, fold_last: pd.Series, domain: str) -> pd.Series:
    """first.last@, then first.last2@ … for namesakes."""
    base = fold_first + "." + fold_last
    nth = numbered(base)
    email: pd.Series = base + np.where(nth > 0, (nth + 1).astype(str), "") + "@" + domain
    return email


def _user_ids(rng: np.random.Generator, fold_first: pd.Series, fold_last: pd.Series) -> pd.Series:
    """Two letters of the first name and of the surname, then four digits ("anan4821"); distinct."""
    prefix = fold_first.str.replace("-", "").str.slice(0, 2).str.pad(2, fillchar="x") + (
        fold_last.str.replace("-", "").str.slice(0, 2).str.pad(2, fillchar="x")
    )
    codes, uniques = pd.factorize(prefix)
    start = rng.integers(0, 10000, len(uniques))[codes]
    strides = np.array([s for s in range(1, 200, 2) if s % 5])  # coprime to 10000
    stride = strides[rng.integers(0, len(strides), len(uniques))][codes]
    nth = numbered(prefix).to_numpy()
    number = (start + nth * stride) % 10000 + 10000 * (nth // 10000)
    return prefix + pd.Series(number).astype(str).str.zfill(4)


def _personnummer(rng: np.random.Generator, n: int) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Distinct canonical numbers (YYYYMMDD-NNNC) with birth numbers 980–999 only.

    Up to USUAL_SLOTS: distinct (date, serial) pairs born 1955–2006, a few samordningsnummer.
    Beyond that: distinct (date, serial, samordning) slots born 1935–2008, so about half of
    them are samordningsnummer (the only way to fit a million people in the test series).
    """
    if n <= USUAL_SLOTS:
        slots = rng.choice(USUAL_SLOTS, size=n, replace=False)  # distinct (date, serial) pairs
        birth = BIRTH_FIRST + (slots // len(SERIALS)).astype("timedelta64[D]")
        serial = SERIALS[slots % len(SERIALS)]
        samordning = rng.random(n) < SAMORDNING_SHARE
    else:
        slots = rng.choice(MAX_EMPLOYEES, size=n, replace=False)
        pair, samordning = slots // 2, (slots % 2).astype(bool)  # distinct (date, serial, s.)
        birth = WIDE_BIRTH_FIRST + (pair // len(SERIALS)).astype("timedelta64[D]")
        serial = SERIALS[pair % len(SERIALS)]
    year = birth.astype("datetime64[Y]").astype(int) + 1970
    month = birth.astype("datetime64[M]").astype(int) % 12 + 1
    day = (birth - birth.astype("datetime64[M]")).astype(int) + 1 + 60 * samordning
    yy = year % 100
    nine = np.stack(
        [
            yy // 10,
            yy % 10,
            month // 10,
            month % 10,
            day // 10,
            day % 10,
            serial // 100,
            serial // 10 % 10,
            serial % 10,
        ]
    )
    products = nine * np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])[:, None]
    check = -(products // 10 + products % 10).sum(axis=0) % 10
    head = pd.Series(year * 10000 + month * 100 + day).astype(str)
    canonical = head + "-" + pd.Series(serial * 10 + check).astype(str)
    return canonical, birth, samordning


def _employment(
    rng: np.random.Generator, birth: np.ndarray, today: np.datetime64, staff: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start dates (from 18 years old, at most 40 years back), end dates, who is fixed-term."""
    n = len(birth)
    earliest = np.maximum(birth + np.timedelta64(6575, "D"), today - np.timedelta64(14610, "D"))
    latest = today - np.timedelta64(7, "D")
    earliest = np.minimum(earliest, latest)
    span = (latest - earliest).astype(int)
    start_date = latest - (span * rng.random(n) ** 1.6).astype(int).astype("timedelta64[D]")
    fixed_term = staff & (rng.random(n) < FIXED_TERM_SHARE)
    end_date = today + rng.integers(30, 550, n).astype("timedelta64[D]")
    return start_date, end_date, fixed_term


def _need_categories(rng: np.random.Generator, is_chef: np.ndarray) -> np.ndarray:
    """The need category (§4.1): managers 1, staff drawn."""
    n, n_chefs = len(is_chef), int(is_chef.sum())
    staff = ~is_chef
    n_staff = int(staff.sum())
    category = np.ones(n, dtype=int)
    if n_staff:  # ~20 % / 45 % / 35 % overall, managers (category 1) included
        p1 = float(np.clip((0.20 * n - n_chefs) / n_staff, 0.05, 0.5))
        p2 = min(0.45 * n / n_staff, 1.0 - p1)
        p3 = max(0.0, 1.0 - p1 - p2)
        category[staff] = rng.choice([1, 2, 3], size=n_staff, p=[p1, p2, p3])
    return category


def _employee_numbers(rng: np.random.Generator, start_date: np.ndarray) -> np.ndarray:
    """Employee numbers follow the hiring date, with small gaps as people come and go."""
    n = len(start_date)
    order = np.argsort(start_date, kind="stable")
    employee_no = np.empty(n, dtype=np.int64)
    employee_no[order] = 10000 + np.cumsum(rng.integers(1, 4, n))
    return employee_no
