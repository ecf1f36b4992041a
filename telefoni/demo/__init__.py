"""A fictional municipality, Sjöbacka kommun, to fill an empty register for demos and benchmarks.

`generate` builds the whole town as pandas DataFrames (pure, deterministic per seed and day);
`load` bulk-inserts it; `write_hr_export` writes the HR file the nightly sync reads. Every
personnummer uses a birth number in Skatteverket's test series 980–999.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import ColumnDefault

from models.base import Base
from models.directory_sync import hr_digest_key
from models.hr_export import HR_EXPORT_COLUMNS as HR_EXPORT_COLUMNS
from models.hr_export import row_digests
from models.personnummer import TEST_BIRTH_NUMBERS, Personnummer, PersonnummerVault
from models.register import (
    Accessory,
    CostCentre,
    Device,
    DirectoryEntry,
    Employee,
    OrgUnit,
    PhoneModel,
    Subscription,
    SubscriptionOption,
)
from telefoni.demo import names

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
HEADSET_SHARE: Final = 0.8
ACCESSIBLE_SHARE: Final = 0.015
EMPLOYEES_PER_UNIT: Final = 25
EMPLOYEES_PER_EXTRA_NUMBER: Final = 100
BATCH_ROWS: Final = 5000
NEW_HIRE_DAYS: Final = 30  # hired this recently: no phone yet

# Phone catalogue: (name, manufacturer, standard, smartphone, accessible, rugged, available, TAC)
PHONE_MODELS: Final = (
    ("Nordfon S24", "Nordfon", True, True, False, False, True, "35291811"),
    ("Kvarts Q8", "Kvarts Mobil", True, True, False, False, True, "35884210"),
    ("Nordfon Trygg 3", "Nordfon", False, False, True, False, True, "35640312"),
    ("Fjällfon X5 Rugged", "Fjällfon", False, True, False, True, True, "35172905"),
    ("Nordfon S21", "Nordfon", False, True, False, False, False, "35291609"),
)
MODEL_STANDARD_A, MODEL_STANDARD_B, MODEL_ACCESSIBLE, MODEL_RUGGED = 1, 2, 3, 4
# (code, name, includes_data, monthly fee, description)
SUBSCRIPTION_OPTIONS: Final = (
    ("MOB-BAS", "Mobil Bas", False, "99.00", "Samtal och sms, ingen mobildata."),
    ("MOB-DATA20", "Mobil Data 20 GB", True, "179.00", "Samtal, sms och 20 GB mobildata."),
    ("MOB-OBEGR", "Mobil Obegränsad", True, "249.00", "Fria samtal, sms och obegränsad data."),
)
OPTION_BAS, OPTION_DATA, OPTION_UNLIMITED = 1, 2, 3


class DemoError(RuntimeError):
    """The demo municipality cannot be made or loaded as asked."""


@dataclass(frozen=True, repr=False)
class Town:
    """The whole fictional municipality; ids are 1-based row numbers, foreign keys use them."""

    units: pd.DataFrame
    cost_centres: pd.DataFrame
    phone_models: pd.DataFrame
    subscription_options: pd.DataFrame
    employees: pd.DataFrame
    subscriptions: pd.DataFrame
    devices: pd.DataFrame
    accessories: pd.DataFrame
    directory_entries: pd.DataFrame

    def __repr__(self) -> str:  # never dump the frames (they hold personnummer in clear)
        sizes = ", ".join(f"{f.name}={len(getattr(self, f.name))}" for f in fields(self))
        return f"Town({sizes})"


# ---------------------------------------------------------------------------- generate


def generate(*, employees: int, seed: int = 1, today: date | None = None) -> Town:
    """Build Sjöbacka kommun with `employees` people; the same seed and day give the same town."""
    if employees < 1:
        raise DemoError("antalet anställda måste vara minst 1")
    if employees > MAX_EMPLOYEES:
        raise DemoError(
            f"högst {MAX_EMPLOYEES} anställda: testserien för personnummer (födelsenummer "
            "980–999, födda 1935–2008, även som samordningsnummer) räcker inte till fler "
            "unika nummer"
        )
    today = date.today() if today is None else today
    rng = np.random.default_rng(seed)
    units = _units(rng, employees)
    cost_centres = pd.DataFrame(
        {
            "id": units["id"],
            "code": "KS" + units["code"].str.slice(1),
            "name": units["name"],
        }
    )
    people = _employees(rng, units, employees, np.datetime64(today, "D"))
    subs, devices = _subscriptions_and_devices(rng, units, people, np.datetime64(today, "D"))
    return Town(
        units=units,
        cost_centres=cost_centres,
        phone_models=_phone_models(),
        subscription_options=_subscription_options(),
        employees=people,
        subscriptions=subs,
        devices=devices,
        accessories=_accessories(rng, devices),
        directory_entries=_directory(people, subs),
    )


def _phone_models() -> pd.DataFrame:
    cols = (
        "name",
        "manufacturer",
        "is_standard",
        "is_smartphone",
        "is_accessible",
        "is_rugged",
        "available",
        "tac",
    )
    frame = pd.DataFrame(PHONE_MODELS, columns=list(cols))
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["includes_headset"] = False
    return frame


def _subscription_options() -> pd.DataFrame:
    cols = ["code", "name", "includes_data", "monthly_fee_sek", "description"]
    frame = pd.DataFrame(SUBSCRIPTION_OPTIONS, columns=cols)
    frame["monthly_fee_sek"] = [Decimal(v) for v in frame["monthly_fee_sek"]]
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["available"] = True
    return frame


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    exact = shares / shares.sum() * total
    counts: np.ndarray = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _address(rng: np.random.Generator, place: str | None) -> str:
    street = names.STREETS[int(rng.integers(len(names.STREETS)))]
    number = int(rng.integers(1, 60))
    if place in names.PLACES:
        return f"{street} {number}, 694 {60 + names.PLACES.index(place)} {place}"
    return f"{street} {number}, 694 {int(rng.integers(30, 40))} {names.TOWN}"


def _units(rng: np.random.Generator, employees: int) -> pd.DataFrame:
    """Förvaltningar first (the kommunledning at row 0), then their enheter."""
    forv = names.FORVALTNINGAR
    n_enheter = max(10, round(employees / EMPLOYEES_PER_UNIT)) - len(forv)
    per_forv = _largest_remainder(n_enheter, np.array([f.share for f in forv]))
    rows: list[dict[str, Any]] = []
    for fi, f in enumerate(forv):
        address = names.TOWN_HALL_ADDRESS if fi == 0 else _address(rng, None)
        rows.append(
            {
                "name": f.name,
                "parent": -1,
                "forvaltning": fi,
                "template": -1,
                "size": 0.4,
                "rugged": 0.0,
                "keywords": f.keywords,
                "chef_title": f.chef_title,
                "visiting_address": address,
            }
        )
    for fi, f in enumerate(forv):
        k = int(per_forv[fi])
        t_count = len(f.templates)
        weights = np.array([t.weight for t in f.templates], dtype=float)
        picks = list(range(min(k, t_count)))
        picks += rng.choice(t_count, size=max(0, k - t_count), p=weights / weights.sum()).tolist()
        seen: dict[int, int] = {}
        fill_orders = {
            ti: rng.permutation(len(names.FILLS[t.fill]))
            for ti, t in enumerate(f.templates)
            if t.fill
        }
        for ti in picks:
            t = f.templates[ti]
            nth = seen.get(ti, 0)
            seen[ti] = nth + 1
            place: str | None = None
            if t.fill:
                values = names.FILLS[t.fill]
                place = values[int(fill_orders[ti][nth % len(values)])]
                name = t.pattern.format(place)
                lap = nth // len(values)
            else:
                name, lap = t.pattern, nth
            if lap:
                name = f"{name} {lap + 1}"
            address = names.TOWN_HALL_ADDRESS if fi == 0 and not t.fill else _address(rng, place)
            rows.append(
                {
                    "name": name,
                    "parent": fi,
                    "forvaltning": fi,
                    "template": ti,
                    "size": t.size * float(rng.lognormal(0.0, 0.35)),
                    "rugged": t.rugged,
                    "keywords": t.keywords,
                    "chef_title": t.chef_title,
                    "visiting_address": address,
                }
            )
    units = pd.DataFrame(rows)
    ids = np.arange(1, len(units) + 1)
    units.insert(0, "id", ids)
    units.insert(1, "code", [f"U{1000 + i}" for i in range(len(units))])
    units["parent_id"] = _nullable_ids(units["parent"].to_numpy())
    return units


def _nullable_ids(rows: np.ndarray) -> pd.arrays.IntegerArray:
    """1-based ids for 0-based row numbers; a negative row number means no row (NULL)."""
    ids = pd.array(rows + 1, dtype="Int64")
    ids[rows < 0] = pd.NA
    return ids


def _fold(value: str) -> str:
    """ASCII for e-mail addresses and user ids: å→a, ä→a, ö→o, é→e …"""
    plain = unicodedata.normalize("NFKD", value.lower().replace("ø", "o").replace("æ", "ae"))
    return "".join(c for c in plain if c.isascii() and (c.isalnum() or c in "-."))


def _zipf_choice(rng: np.random.Generator, pool: Sequence[str], size: int) -> np.ndarray:
    weights = 1.0 / (np.arange(len(pool)) + 8.0)
    picks: np.ndarray = rng.choice(len(pool), size=size, p=weights / weights.sum())
    return picks


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


def _numbered(values: pd.Series) -> pd.Series:
    """0 for the first occurrence of each value, 1 for the second …"""
    return values.groupby(values, sort=False).cumcount()


def _employees(
    rng: np.random.Generator, units: pd.DataFrame, n: int, today: np.datetime64
) -> pd.DataFrame:
    """People, managers before their reports: kommundirektör, förvaltningschefer, enhetschefer."""
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

    template = units["template"].to_numpy()[unit_row]
    forvaltning = units["forvaltning"].to_numpy()[unit_row]
    title = np.empty(n, dtype=object)
    title[is_chef] = units["chef_title"].to_numpy()[unit_row[is_chef]]
    staff = ~is_chef
    kinds = zip(forvaltning[staff].tolist(), template[staff].tolist(), strict=True)
    for fi, tmpl in sorted(set(kinds)):
        mask = staff & (forvaltning == fi) & (template == tmpl)
        pool = names.OFFICE_STAFF if tmpl < 0 else names.FORVALTNINGAR[fi].templates[tmpl].titles
        p = np.array([w for _, w in pool])
        title[mask] = np.array([t for t, _ in pool], dtype=object)[
            rng.choice(len(pool), size=int(mask.sum()), p=p / p.sum())
        ]
    title_s = pd.Series(title, dtype=str)
    keywords = pd.Series(units["keywords"].to_numpy()[unit_row]) + ", " + title_s.str.lower()

    first = np.array(names.FIRST_NAMES, dtype=object)[_zipf_choice(rng, names.FIRST_NAMES, n)]
    last = np.array(names.LAST_NAMES, dtype=object)[_zipf_choice(rng, names.LAST_NAMES, n)]
    first_s, last_s = pd.Series(first, dtype=str), pd.Series(last, dtype=str)
    fold_first = first_s.map(_fold)
    fold_last = last_s.map(_fold)
    base = fold_first + "." + fold_last
    nth = _numbered(base)
    email = base + np.where(nth > 0, (nth + 1).astype(str), "") + "@" + names.MAIL_DOMAIN

    prefix = fold_first.str.replace("-", "").str.slice(0, 2).str.pad(2, fillchar="x") + (
        fold_last.str.replace("-", "").str.slice(0, 2).str.pad(2, fillchar="x")
    )
    codes, uniques = pd.factorize(prefix)
    start = rng.integers(0, 10000, len(uniques))[codes]
    strides = np.array([s for s in range(1, 200, 2) if s % 5])  # coprime to 10000
    stride = strides[rng.integers(0, len(strides), len(uniques))][codes]
    nth = _numbered(prefix).to_numpy()
    number = (start + nth * stride) % 10000 + 10000 * (nth // 10000)
    user_id = prefix + pd.Series(number).astype(str).str.zfill(4)

    pnr, birth, samordning = _personnummer(rng, n)
    earliest = np.maximum(birth + np.timedelta64(6575, "D"), today - np.timedelta64(14610, "D"))
    latest = today - np.timedelta64(7, "D")
    earliest = np.minimum(earliest, latest)
    span = (latest - earliest).astype(int)
    start_date = latest - (span * rng.random(n) ** 1.6).astype(int).astype("timedelta64[D]")
    fixed_term = staff & (rng.random(n) < FIXED_TERM_SHARE)
    end_date = today + rng.integers(30, 550, n).astype("timedelta64[D]")

    n_staff = int(staff.sum())
    category = np.ones(n, dtype=int)
    if n_staff:  # ~20 % / 45 % / 35 % overall, managers (category 1) included
        p1 = float(np.clip((0.20 * n - n_chefs) / n_staff, 0.05, 0.5))
        p2 = min(0.45 * n / n_staff, 1.0 - p1)
        p3 = max(0.0, 1.0 - p1 - p2)
        category[staff] = rng.choice([1, 2, 3], size=n_staff, p=[p1, p2, p3])

    # Employee numbers follow the hiring date, with small gaps as people come and go.
    order = np.argsort(start_date, kind="stable")
    employee_no = np.empty(n, dtype=np.int64)
    employee_no[order] = 10000 + np.cumsum(rng.integers(1, 4, n))

    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "employee_number": "A" + pd.Series(employee_no).astype(str).str.zfill(6),
            "first_name": first_s,
            "last_name": last_s,
            "personnummer": pnr,
            "is_samordningsnummer": samordning,
            "email": email,
            "title": title_s,
            "user_id": user_id,
            "unit_id": unit_row + 1,
            "cost_centre_id": unit_row + 1,
            "visiting_address": units["visiting_address"].to_numpy()[unit_row],
            "keywords": keywords,
            "manager_id": _nullable_ids(manager_row),
            "employment_start": pd.Series(start_date).dt.date.astype(object),
            "employment_end": pd.Series(end_date).dt.date.astype(object).where(fixed_term, None),
            "need_category": category,
        }
    )


def _slug(value: str) -> str:
    """`Expedition Lövstaskolan` → `expedition.lovstaskolan` (for e-mail addresses)."""
    plain = unicodedata.normalize("NFKD", value.lower())
    return re.sub(r"[^a-z0-9]+", ".", "".join(c for c in plain if c.isascii())).strip(".")


def _non_personal(rng: np.random.Generator, units: pd.DataFrame, n_extra: int) -> pd.DataFrame:
    """Reception, on-call and group numbers: three fixed ones, then more from the units."""

    def first_unit(name: str, fallback: int) -> int:
        hits = np.flatnonzero(units["name"].str.startswith(name).to_numpy())
        return int(hits[0]) if len(hits) else fallback

    social = next(i for i, f in enumerate(names.FORVALTNINGAR) if f.name.startswith("Social"))
    building = next(i for i, f in enumerate(names.FORVALTNINGAR) if f.name.startswith("Samh"))
    rows: list[dict[str, Any]] = [
        {
            "designation": "Reception Kommunhuset",
            "purpose": "reception",
            "unit": 0,
            "email": "reception",
            "keywords": "reception, kommunhuset, besök",
        },
        {
            "designation": "Jourtelefon Socialtjänsten",
            "purpose": "on_call",
            "unit": first_unit("Individ- och familjeomsorg", social),
            "email": "socialjour",
            "keywords": "socialjour, socialtjänst, akut",
        },
        {
            "designation": "Kundcenter Bygglov",
            "purpose": "group",
            "unit": first_unit("Bygglov", building),
            "email": "bygglov",
            "keywords": "bygglov, kundcenter",
            "phone_hours": names.OFFICE_HOURS,
        },
    ]
    candidates = [
        (u, number)
        for u, (fi, ti) in enumerate(zip(units["forvaltning"], units["template"], strict=True))
        if ti >= 0
        for number in names.FORVALTNINGAR[fi].templates[ti].numbers
    ]
    if not candidates:
        candidates = [(0, names.NumberTemplate("Reception {unit}", "reception", "reception"))]
    first_round = rng.permutation(len(candidates))[:n_extra]
    more = rng.integers(0, len(candidates), max(0, n_extra - len(candidates)))
    for pick in np.concatenate([first_round, more]).tolist():
        u, template = candidates[pick]
        designation = template.designation.format(unit=units["name"].iat[u])
        hours = None
        if template.purpose == "group":
            hours = names.PHONE_HOURS[int(rng.integers(len(names.PHONE_HOURS)))]
        rows.append(
            {
                "designation": designation,
                "purpose": template.purpose,
                "unit": u,
                "email": _slug(designation),
                "keywords": template.keywords,
                "phone_hours": hours,
            }
        )
    frame = pd.DataFrame(rows)
    nth = _numbered(frame["designation"])
    frame["designation"] = frame["designation"] + np.where(nth > 0, " " + (nth + 1).astype(str), "")
    nth = _numbered(frame["email"])
    frame["email"] = (
        frame["email"] + np.where(nth > 0, (nth + 1).astype(str), "") + "@" + names.MAIL_DOMAIN
    )
    frame["phone_hours"] = (
        frame["phone_hours"].astype(object).where(frame["phone_hours"].notna(), None)
    )
    return frame


def _imei(rng: np.random.Generator, tac: np.ndarray) -> pd.Series:
    """Distinct 15-digit IMEIs: 8-digit TAC + distinct 6-digit serial + Luhn check digit."""
    serial = rng.choice(1_000_000, size=len(tac), replace=False)
    body = pd.Series(tac, dtype=str) + pd.Series(serial).astype(str).str.zfill(6)
    raw = np.frombuffer("".join(body).encode("ascii"), dtype=np.uint8).reshape(-1, 14)
    digits = raw.astype(np.int64) - 48
    doubled = digits[:, 1::2] * 2
    total = digits[:, 0::2].sum(axis=1) + (doubled // 10 + doubled % 10).sum(axis=1)
    return body + pd.Series((-total) % 10).astype(str)


def _subscriptions_and_devices(
    rng: np.random.Generator, units: pd.DataFrame, people: pd.DataFrame, today: np.datetime64
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One personal subscription and phone per category 1 and 2 employee (§4.1), plus groups.

    Those hired in the last NEW_HIRE_DAYS are still waiting for theirs: an onboarding order
    is what they need (try one in the UI)."""
    started = pd.to_datetime(people["employment_start"]).to_numpy().astype("datetime64[D]")
    waiting = started > today - np.timedelta64(NEW_HIRE_DAYS, "D")
    owners = people[people["need_category"].isin([1, 2]).to_numpy() & ~waiting]
    m = len(owners)
    unit_row = owners["unit_id"].to_numpy() - 1
    accessible = rng.random(m) < ACCESSIBLE_SHARE
    rugged = ~accessible & (rng.random(m) < units["rugged"].to_numpy()[unit_row])
    model = np.where(rng.random(m) < 0.65, MODEL_STANDARD_A, MODEL_STANDARD_B)
    model = np.where(accessible, MODEL_ACCESSIBLE, np.where(rugged, MODEL_RUGGED, model))
    smartphone = ~accessible
    category = owners["need_category"].to_numpy()
    option = np.where(
        accessible, OPTION_BAS, np.where(category == 1, OPTION_UNLIMITED, OPTION_DATA)
    )

    groups = _non_personal(rng, units, len(people) // EMPLOYEES_PER_EXTRA_NUMBER)
    g = len(groups)
    g_unit = groups["unit"].to_numpy() + 1
    numbers = rng.choice(10_000_000, size=m + g, replace=False)
    none_m: list[None] = [None] * m
    no_m, no_g = np.full(m, -1), np.full(g, -1)  # row -1: NULL
    subs = pd.DataFrame(
        {
            "id": np.arange(1, m + g + 1),
            "number": "+4670" + pd.Series(numbers).astype(str).str.zfill(7),
            "kind": ["personal"] * m + ["non_personal"] * g,
            "owner_id": _nullable_ids(np.concatenate([owners["id"].to_numpy() - 1, no_g])),
            "designation": none_m + groups["designation"].tolist(),
            "purpose": ["personal"] * m + groups["purpose"].tolist(),
            "option_id": np.concatenate([option, np.full(g, OPTION_DATA)]),
            "status": "active",
            "has_data": np.concatenate([smartphone, np.ones(g, bool)]),
            "has_referral": np.concatenate([np.ones(m, bool), np.zeros(g, bool)]),
            "referral_calendar_link": np.concatenate([np.ones(m, bool), np.zeros(g, bool)]),
            "has_voicemail": np.concatenate(
                [np.ones(m, bool), (groups["purpose"] != "on_call").to_numpy()]
            ),
            "phone_hours": none_m + groups["phone_hours"].tolist(),
            "is_on_call": np.concatenate([np.zeros(m, bool), (groups["purpose"] == "on_call")]),
            "unit_id": _nullable_ids(np.concatenate([no_m, g_unit - 1])),
            "cost_centre_id": _nullable_ids(np.concatenate([no_m, g_unit - 1])),
            "email": none_m + groups["email"].tolist(),
            "visiting_address": none_m + units["visiting_address"].to_numpy()[g_unit - 1].tolist(),
            "keywords": none_m + groups["keywords"].tolist(),
        }
    )

    all_models = np.concatenate([model, np.full(g, MODEL_STANDARD_A)])
    reason = np.full(m + g, None, dtype=object)
    note = np.full(m + g, None, dtype=object)
    for flag, why, notes in (
        (accessible, "accessibility", names.ACCESSIBILITY_NOTES),
        (rugged, "rugged", names.RUGGED_NOTES),
    ):
        idx = np.flatnonzero(flag)
        reason[idx] = why
        note[idx] = np.array(notes, dtype=object)[rng.integers(0, len(notes), len(idx))]
    tacs = np.array([row[7] for row in PHONE_MODELS], dtype=object)[all_models - 1]
    devices = pd.DataFrame(
        {
            "id": np.arange(1, m + g + 1),
            "model_id": all_models,
            "imei": _imei(rng, tacs),
            "status": "in_use",
            "holder_id": subs["owner_id"],
            "subscription_id": subs["id"],
            "deviation_reason": reason,
            "deviation_note": note,
        }
    )
    return subs, devices


def _accessories(rng: np.random.Generator, devices: pd.DataFrame) -> pd.DataFrame:
    """A headset with most phones (§4.2.1)."""
    with_headset = devices[rng.random(len(devices)) < HEADSET_SHARE]
    k = len(with_headset)
    return pd.DataFrame(
        {
            "id": np.arange(1, k + 1),
            "kind": "headset",
            "description": np.array(names.HEADSETS, dtype=object)[
                rng.integers(0, len(names.HEADSETS), k)
            ],
            "device_id": with_headset["id"].to_numpy(),
            "holder_id": with_headset["holder_id"].array,
        }
    )


def _directory(people: pd.DataFrame, subs: pd.DataFrame) -> pd.DataFrame:
    """The contact centre's kunddatabas (§3.1): everyone, then every non-personal number."""
    personal = subs[subs["kind"] == "personal"]
    number_of = pd.Series(personal["number"].to_numpy(), index=personal["owner_id"].to_numpy())
    people_part = pd.DataFrame(
        {
            "kind": "personal",
            "employee_id": people["id"],
            "subscription_id": None,
            "name": people["first_name"] + " " + people["last_name"],
            "designation": None,
            "phone_number": people["id"].map(number_of),
            "email": people["email"],
            "title": people["title"],
            "user_id": people["user_id"],
            "unit_id": people["unit_id"],
            "cost_centre_id": people["cost_centre_id"],
            "visiting_address": people["visiting_address"],
            "keywords": people["keywords"],
        }
    )
    groups = subs[subs["kind"] == "non_personal"]
    groups_part = pd.DataFrame(
        {
            "kind": "non_personal",
            "employee_id": None,
            "subscription_id": groups["id"],
            "name": None,
            "designation": groups["designation"],
            "phone_number": groups["number"],
            "email": groups["email"],
            "title": None,
            "user_id": None,
            "unit_id": groups["unit_id"],
            "cost_centre_id": groups["cost_centre_id"],
            "visiting_address": groups["visiting_address"],
            "keywords": groups["keywords"],
        }
    )
    entries = pd.concat([people_part, groups_part], ignore_index=True)
    for col in ("employee_id", "subscription_id", "unit_id", "cost_centre_id"):
        entries[col] = entries[col].astype("Int64")
    entries.insert(0, "id", np.arange(1, len(entries) + 1))
    return entries


# ---------------------------------------------------------------------------- load

# (label shown to the admin, table, Town attribute), in foreign-key order.
_PLAN: Final[tuple[tuple[str, type[Base], str], ...]] = (
    ("organisationsenheter", OrgUnit, "units"),
    ("kostnadsställen", CostCentre, "cost_centres"),
    ("telefonmodeller", PhoneModel, "phone_models"),
    ("abonnemangsformer", SubscriptionOption, "subscription_options"),
    ("anställda", Employee, "employees"),
    ("abonnemang", Subscription, "subscriptions"),
    ("telefoner", Device, "devices"),
    ("tillbehör", Accessory, "accessories"),
    ("poster i kunddatabasen", DirectoryEntry, "directory_entries"),
)


def load(session: Session, town: Town, *, vault: PersonnummerVault) -> dict[str, int]:
    """Bulk-insert the town into an empty register (the caller commits); counts per kind."""
    _require_empty(session)
    pnrs = [Personnummer(p.replace("-", "")) for p in town.employees["personnummer"]]
    encrypted, hashes = vault.encrypt_many(pnrs), vault.lookup_hashes(pnrs)
    entries = town.directory_entries
    personal = entries["kind"].eq("personal").to_numpy()
    row_of = (entries["employee_id"].fillna(1).astype(int) - 1).to_numpy()
    # The digest of each person's row in the town's HR export: the first sync after the load
    # knows those rows are already in the register (models.register.Employee.hr_digest).
    digests = row_digests(hr_export_frame(town), hr_digest_key(vault)).tolist()
    extra: dict[str, dict[str, list[Any]]] = {
        "employees": {
            "personnummer_encrypted": encrypted,
            "personnummer_hash": hashes,
            "hr_digest": digests,
        },
        "directory_entries": {
            "personnummer_encrypted": [
                encrypted[r] if p else None for r, p in zip(row_of, personal, strict=True)
            ],
            "personnummer_hash": [
                hashes[r] if p else None for r, p in zip(row_of, personal, strict=True)
            ],
        },
    }
    counts: dict[str, int] = {}
    for label, model, attr in _PLAN:
        frame: pd.DataFrame = getattr(town, attr)
        _insert(session, model, frame, extra.get(attr, {}))
        counts[label] = len(frame)
    if session.get_bind().dialect.name == "postgresql":
        for _, model, _ in _PLAN:
            table = model.__tablename__
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 1), "
                    f"(SELECT MAX(id) FROM {table}) IS NOT NULL)"
                )
            )
    return counts


def _require_empty(session: Session) -> None:
    """Refuse a register that holds anything we would write (people first: the usual case)."""
    plan = sorted(_PLAN, key=lambda step: step[1] is not Employee)
    for label, model, _ in plan:
        if session.scalar(select(model.id).limit(1)) is not None:  # type: ignore[attr-defined]
            count = session.scalar(select(func.count()).select_from(model))
            raise DemoError(
                f"registret är inte tomt ({count} {label} finns redan); "
                "demodata kan bara läsas in i ett tomt register"
            )


def _as_python(values: pd.Series) -> list[Any]:
    """Plain Python values with None for missing (what the DB drivers expect)."""
    plain: list[Any] = values.astype(object).where(values.notna(), None).tolist()
    return plain


def _insert(
    session: Session, model: type[Base], frame: pd.DataFrame, extra: dict[str, list[Any]]
) -> None:
    table = Base.metadata.tables[model.__tablename__]
    values: dict[str, list[Any]] = {
        c.key: _as_python(frame[c.key]) for c in table.columns if c.key in frame.columns
    }
    values.update(extra)
    for column in table.columns:  # Python-side defaults (timestamps): one value for the load
        default = column.default
        if column.key not in values and isinstance(default, ColumnDefault):
            value = default.arg(None) if default.is_callable else default.arg
            values[column.key] = [value] * len(frame)
    keys, columns = list(values), list(values.values())
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table.name, keys, zip(*columns, strict=True))
        return
    for lo in range(0, len(frame), BATCH_ROWS):
        batch = zip(*(col[lo : lo + BATCH_ROWS] for col in columns), strict=True)
        session.execute(insert(table), [dict(zip(keys, row, strict=True)) for row in batch])


def _copy(session: Session, table: str, keys: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
    """PostgreSQL COPY in the session's own transaction (row-by-row INSERTs are ~10x slower)."""
    connection = session.connection().connection.driver_connection
    sql = f"COPY {table} ({', '.join(keys)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)


# ---------------------------------------------------------------------------- HR export


def hr_export_frame(town: Town) -> pd.DataFrame:
    """The HR export as text (empty string = no value), columns as in HR_EXPORT_COLUMNS."""
    e = town.employees
    unit_code = pd.Series(town.units["code"].to_numpy(), index=town.units["id"].to_numpy())
    cc_code = pd.Series(
        town.cost_centres["code"].to_numpy(), index=town.cost_centres["id"].to_numpy()
    )
    number_of = pd.Series(e["employee_number"].to_numpy(), index=e["id"].to_numpy())
    columns = (
        e["employee_number"],
        e["personnummer"],
        e["first_name"],
        e["last_name"],
        e["email"],
        e["title"],
        e["user_id"],
        e["unit_id"].map(unit_code),
        e["cost_centre_id"].map(cc_code),
        e["visiting_address"],
        e["manager_id"].map(number_of),
        e["employment_start"].map(date.isoformat),
        e["employment_end"].map(lambda d: None if d is None else d.isoformat()),
        e["need_category"],
        e["keywords"],
    )
    return pd.DataFrame(
        {name: _text(col) for name, col in zip(HR_EXPORT_COLUMNS, columns, strict=True)}
    )


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


def write_hr_export(town: Town, path: Path) -> None:
    """Write the HR export: `;`-separated UTF-8 with BOM, or XLSX when the name ends in .xlsx."""
    frame = hr_export_frame(town)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        _write_xlsx(frame, path)
    else:
        frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Anställda")
    sheet.append(list(HR_EXPORT_COLUMNS))

    def cell(value: str) -> Any:
        if not value:
            return None
        if value.startswith("="):  # openpyxl would store it as a formula: force text
            text_cell = WriteOnlyCell(sheet, value=value)
            text_cell.data_type = "s"
            return text_cell
        return value

    for row in frame.itertuples(index=False, name=None):
        sheet.append([cell(v) for v in row])
    book.save(path)
