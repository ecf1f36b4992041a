"""The nightly directory sync as data: what HR says, what the register holds, and the plan (§3.1).

Everything here is pure and works on whole DataFrames: `plan` sorts every row of the export
into joiners, changed, leavers and unchanged, and `brake` decides whether the plan removes
too much to apply without a person's say-so. The tables record each run and its quarantine.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from models.personnummer import Personnummer, PersonnummerVault

# Fields HR owns on an employee, as compared (text; "" = empty).
EMPLOYEE_FIELDS = (
    "first_name",
    "last_name",
    "personnummer_hash",
    "email",
    "title",
    "user_id",
    "unit_code",
    "cost_centre_code",
    "visiting_address",
    "manager_number",
    "employment_start",
    "employment_end",
    "need_category",
    "keywords",
)
# The §3.1 fields of a personal directory entry, as compared.
DIRECTORY_FIELDS = (
    "name",
    "phone_number",
    "email",
    "title",
    "personnummer_hash",
    "user_id",
    "unit_code",
    "cost_centre_code",
    "visiting_address",
    "keywords",
)
FIELD_LABELS = {
    "first_name": "förnamn",
    "last_name": "efternamn",
    "name": "namn",
    "personnummer_hash": "personnummer",
    "email": "e-post",
    "title": "titel",
    "user_id": "användar-id",
    "unit_code": "organisationsenhet",
    "cost_centre_code": "kostnadsställe",
    "visiting_address": "besöksadress",
    "manager_number": "chef",
    "employment_start": "anställd från",
    "employment_end": "anställd till",
    "need_category": "behovskategori",
    "keywords": "sökord",
    "phone_number": "telefonnummer",
}


# --- the plan ---------------------------------------------------------------------------------

# HMAC input for the digest key: no personnummer's lookup hash (12 digits in) can equal it.
_DIGEST_KEY_LABEL = "telefoni/hr-digest-key/v1"


def hr_digest_key(vault: PersonnummerVault) -> bytes:
    """The key of the HR row digests (``Employee.hr_digest``), from the vault's lookup key.

    Kept apart from the database like that key: with it, a stored digest would let anyone test
    guessed personnummer."""
    return bytes.fromhex(vault.lookup_hash(Personnummer._trusted(_DIGEST_KEY_LABEL)))


def as_text(values: pd.Series) -> pd.Series:
    """Comparable text: dates as YYYY-MM-DD, numbers without decimals, empty as ""."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").fillna("").astype(object)
    out = values.astype(object).where(values.notna(), "")
    # What _text_of does to each value, without a Python call per value: text (most columns)
    # is already itself; dates, whole floats and ints are converted in bulk by exact type.
    objects = out.to_numpy(dtype=object)
    if set(map(type, objects)) <= {str}:
        return out
    kinds = np.fromiter(map(type, objects), dtype=object, count=len(objects))
    other = kinds != str  # noqa: E721  (elementwise over the array of types)
    rest, rest_kinds = objects[other], set(kinds[other])
    texts: list[str]
    if rest_kinds == {date} and min(rest).year >= 1000:  # isoformat = %Y-%m-%d from year 1000
        texts = list(map(date.isoformat, rest))
    elif rest_kinds <= _DATE_TYPES:
        texts = list(map(_YMD, rest))
    elif rest_kinds <= {int}:
        texts = list(map(str, rest))
    elif rest_kinds <= {float}:
        texts = _float_texts(rest)
    else:
        texts = list(map(_text_of, rest))
    result = objects.copy()
    result[other] = texts
    return pd.Series(result, index=out.index, name=out.name, dtype=object)


_DATE_TYPES = frozenset({date, datetime, pd.Timestamp})
_YMD = operator.methodcaller("strftime", "%Y-%m-%d")


def _float_texts(values: np.ndarray) -> list[str]:
    """_text_of for Python floats: whole numbers without decimals (exact below 2**53)."""
    numbers = values.astype(np.float64)
    whole = np.isfinite(numbers) & (np.abs(numbers) < 2.0**53) & (numbers == np.floor(numbers))
    texts = np.empty(len(values), dtype=object)
    texts[whole] = numbers[whole].astype(np.int64).astype(str).tolist()
    texts[~whole] = [_text_of(v) for v in values[~whole]]
    out: list[str] = texts.tolist()
    return out


def _text_of(value: Any) -> str:
    if isinstance(value, date | datetime | pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class SyncPlan:
    """What one export means for the register; every data row is in exactly one bucket."""

    joiners: pd.DataFrame  # desired rows of people new to (or back in) the register
    changed: pd.DataFrame  # desired rows of people with a changed field, with employee_id
    changes: pd.DataFrame  # long form: employee_number, field, before, after
    leavers: pd.DataFrame  # register rows: employee_id, employee_number, name, reason
    directory_missing: pd.DataFrame  # desired rows of active people without an entry
    rows_read: int
    rows_applied: int
    rows_unchanged: int
    rows_quarantined: int

    @property
    def has_changes(self) -> bool:
        return bool(len(self.joiners) or len(self.changed) or len(self.leavers)) or bool(
            len(self.directory_missing)
        )


def desired_frame(valid: pd.DataFrame, pnr_hashes: pd.Series, phone: pd.Series) -> pd.DataFrame:
    """The register as HR wants it, one row per valid export row, comparable as text.

    `phone` maps employee_number → the number of the person's active personal subscription.
    """
    desired = pd.DataFrame({"employee_number": as_text(valid["employee_number"])})
    for name in EMPLOYEE_FIELDS:
        desired[name] = (
            pnr_hashes.astype(object) if name == "personnummer_hash" else as_text(valid[name])
        )
    desired["name"] = desired["first_name"] + " " + desired["last_name"]
    numbers = desired["employee_number"].map(phone).astype(object)
    desired["phone_number"] = numbers.where(numbers.notna(), "")
    return desired


def plan(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    *,
    quarantined_rows: int,
    rows_read: int,
    protected_numbers: set[str],
    today: date,
    unchanged: pd.DataFrame | None = None,
) -> SyncPlan:
    """Compare HR's wishes with the register.

    `current` has one row per employee in the register: employee_id, employee_number,
    left (bool), has_entry (bool), and the EMPLOYEE_FIELDS and `dir_*` DIRECTORY_FIELDS as
    text. `protected_numbers` are people whose export row was quarantined: never leavers.

    `unchanged` (employee_id, employee_number, first_name, last_name, employment_end, as text)
    are valid export rows known to match the register already, employee and directory entry
    (the caller compared digests): not in `desired`, and `current` need not hold them. They are
    unchanged rows, or leavers once their employment has ended. `current` must hold everyone
    else who can change: the people of `desired`, and every active employee absent from the
    export.
    """
    today_text = today.isoformat()
    if unchanged is None:
        unchanged = _no_rows_unchanged()
    ended = _before(desired["employment_end"], today_text)
    staying = desired[~ended]
    by_number = current.set_index("employee_number")

    known = staying["employee_number"].isin(by_number.index)
    active_numbers = set(current.loc[~current["left"], "employee_number"])
    back = staying["employee_number"].isin(by_number.index[by_number["left"]])
    joiners = staying[~known | back]

    existing = staying[known & ~back].join(by_number, on="employee_number", validate="one_to_one")
    changes = _long_changes(existing)
    changed_numbers = set(changes["employee_number"])
    changed = existing[existing["employee_number"].isin(changed_numbers)]
    missing_entry = existing[~existing["has_entry"].astype(bool)]

    ended_active = desired[ended & desired["employee_number"].isin(active_numbers)]
    ended_unchanged = unchanged[_before(unchanged["employment_end"], today_text)]
    ended_people = _ended_people(ended_active, ended_unchanged, by_number)
    touched = set(changed_numbers) | set(missing_entry["employee_number"])
    applied = len(joiners) + len(touched) + len(ended_people)
    return SyncPlan(
        joiners=joiners,
        changed=changed,
        changes=changes,
        leavers=_leavers(_absent(current, desired, unchanged, protected_numbers), ended_people),
        directory_missing=missing_entry,
        rows_read=rows_read,
        rows_applied=applied,
        rows_unchanged=len(desired) + len(unchanged) - applied,
        rows_quarantined=quarantined_rows,
    )


def _no_rows_unchanged() -> pd.DataFrame:
    """`plan`'s ``unchanged`` when the caller knows of no unchanged rows."""
    return pd.DataFrame(
        {
            "employee_id": pd.Series(dtype=np.int64),
            "employee_number": pd.Series(dtype=object),
            "first_name": pd.Series(dtype=object),
            "last_name": pd.Series(dtype=object),
            "employment_end": pd.Series(dtype=object),
        }
    )


def _absent(
    current: pd.DataFrame, desired: pd.DataFrame, unchanged: pd.DataFrame, protected: set[str]
) -> pd.DataFrame:
    """Active people of ``current`` with no row in the export (quarantined ones are protected)."""
    return current[
        ~current["left"]
        & ~current["employee_number"].isin(desired["employee_number"])
        & ~current["employee_id"].isin(unchanged["employee_id"])  # ids: cheaper than numbers
        & ~current["employee_number"].isin(protected)
    ]


def _ended_people(
    ended_active: pd.DataFrame, ended_unchanged: pd.DataFrame, by_number: pd.DataFrame
) -> pd.DataFrame:
    """People whose employment has ended (employee_id, employee_number, name, end), from the
    desired rows and the unchanged ones, in file order (both frames are indexed by line)."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "employee_id": by_number.loc[
                        ended_active["employee_number"], "employee_id"
                    ].to_numpy(dtype=np.int64),
                    "employee_number": ended_active["employee_number"].to_numpy(),
                    "name": ended_active["name"].to_numpy(),
                    "end": ended_active["employment_end"].to_numpy(),
                },
                index=ended_active.index,
            ),
            pd.DataFrame(
                {
                    "employee_id": ended_unchanged["employee_id"].to_numpy(dtype=np.int64),
                    "employee_number": ended_unchanged["employee_number"].to_numpy(),
                    "name": (
                        ended_unchanged["first_name"] + " " + ended_unchanged["last_name"]
                    ).to_numpy(dtype=object),
                    "end": ended_unchanged["employment_end"].to_numpy(),
                },
                index=ended_unchanged.index,
            ),
        ]
    ).sort_index(kind="stable")


def _leavers(absent: pd.DataFrame, ended_people: pd.DataFrame) -> pd.DataFrame:
    """The register rows to remove (employee_id, employee_number, name, reason): the ``absent``
    from the export first, then the ``ended_people``."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "employee_id": absent["employee_id"].to_numpy(),
                    "employee_number": absent["employee_number"].to_numpy(),
                    "name": absent["dir_name"].to_numpy(),
                    "reason": "finns inte längre i HR-exporten",
                }
            ),
            pd.DataFrame(
                {
                    "employee_id": ended_people["employee_id"].to_numpy(),
                    "employee_number": ended_people["employee_number"].to_numpy(),
                    "name": ended_people["name"].to_numpy(),
                    "reason": ("anställningen slutade " + ended_people["end"]).to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    )


def _before(dates: pd.Series, day: str) -> np.ndarray:
    """Per value (YYYY-MM-DD text, "" for none): a date before ``day``. Only the few that are
    not empty are compared."""
    values = dates.to_numpy(dtype=object)
    given = np.flatnonzero(values != "")
    out = np.zeros(len(values), dtype=bool)
    out[given] = values[given] < day
    return out


def _long_changes(existing: pd.DataFrame) -> pd.DataFrame:
    """One row per changed field: employee fields against the employee, §3.1 fields against
    the directory entry (reported once per field name)."""
    parts = []
    for fld in EMPLOYEE_FIELDS:
        before = existing[f"{fld}_now"]
        differs = existing[fld].to_numpy() != before.to_numpy()
        if differs.any():
            parts.append(_part(existing, differs, fld, before))
    for fld in DIRECTORY_FIELDS:
        if fld in EMPLOYEE_FIELDS:
            # also a directory difference when the entry disagrees with HR
            before = existing[f"dir_{fld}"]
            emp_same = existing[fld].to_numpy() == existing[f"{fld}_now"].to_numpy()
            differs = (existing[fld].to_numpy() != before.to_numpy()) & emp_same
            differs &= existing["has_entry"].to_numpy(dtype=bool)
        else:
            before = existing[f"dir_{fld}"]
            differs = (existing[fld].to_numpy() != before.to_numpy()) & existing[
                "has_entry"
            ].to_numpy(dtype=bool)
        if differs.any():
            parts.append(_part(existing, differs, fld, before))
    if not parts:
        return pd.DataFrame(columns=["employee_number", "field", "before", "after"])
    return pd.concat(parts, ignore_index=True)


def _part(existing: pd.DataFrame, differs: np.ndarray, fld: str, before: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "employee_number": existing["employee_number"].to_numpy()[differs],
            "field": fld,
            "before": before.to_numpy()[differs],
            "after": existing[fld].to_numpy()[differs],
        }
    )


# --- the brake --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrakeLimits:
    max_removal_share: float = 0.05
    max_removal_count: int = 50
    max_shrink_share: float = 0.20


def brake(
    *,
    removals: int,
    directory_size: int,
    rows_now: int,
    rows_last: int | None,
    limits: BrakeLimits,
) -> str | None:
    """Why this plan must not be applied without an override (Swedish), or None."""
    allowed = max(int(limits.max_removal_share * directory_size), limits.max_removal_count)
    if removals > allowed:
        return (
            f"Synken skulle ta bort {removals} av {directory_size} poster i kunddatabasen; "
            f"gränsen är {allowed} ({limits.max_removal_share:.0%} eller "
            f"{limits.max_removal_count} st, det som är störst). Kontrollera HR-exporten."
        )
    if rows_last and rows_now < (1 - limits.max_shrink_share) * rows_last:
        shrink = 1 - rows_now / rows_last
        return (
            f"HR-exporten har {rows_now} rader, {shrink:.0%} färre än förra lyckade körningen "
            f"({rows_last}); gränsen är {limits.max_shrink_share:.0%}. Kontrollera HR-exporten."
        )
    return None
