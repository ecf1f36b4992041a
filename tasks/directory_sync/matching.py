"""The export's rows beside the register: whose each row is, which need no comparing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.hr_export import HrExport, Validated
from models.personnummer import Personnummer, PersonnummerVault, validate_personnummer_series
from models.register import Employee
from tasks.directory_sync.sql import _chunks, _driver_rows


@dataclass(frozen=True)
class Matched:
    """The export's rows beside the register's people (`load_people`)."""

    rows: pd.DataFrame
    digests: pd.Series  # each row's digest (`row_digests`), by line
    people: pd.DataFrame
    register: pd.Index  # the people's employee numbers
    person: np.ndarray  # each row's position in `people` (-1 if none)
    maybe_unchanged: np.ndarray  # per row: known to match the register (`_unchanged_rows`)


def _match(rows: pd.DataFrame, digests: pd.Series, people: pd.DataFrame) -> Matched:
    """Each row's person in the register, and the rows known unchanged."""
    register = pd.Index(people["employee_number"].to_numpy())
    person = register.get_indexer(rows["anstallningsnummer"].to_numpy(object))
    maybe_unchanged = _unchanged_rows(rows, digests.to_numpy(), people, person)
    return Matched(rows, digests, people, register, person, maybe_unchanged)


def _candidates(m: Matched) -> np.ndarray:
    """Per person: whom the run may compare in full, the people of every row not known
    unchanged and everyone active with no row (known before the validation: a few in vain)."""
    rows, people, person = m.rows, m.people, m.person
    candidates: np.ndarray = _rows_of(people, person, rows, rows.index[~m.maybe_unchanged]) | (
        ~people["left"].to_numpy() & ~_rows_of(people, person, rows, rows.index)
    )
    return candidates


def _wanted(m: Matched, valid: pd.Index, unchanged: pd.Index, protected: set[str]) -> np.ndarray:
    """Per person: whom the run compares in full, the people of the ``valid`` rows and everyone
    active with neither a valid nor an ``unchanged`` row, unless ``protected``."""
    people, person, rows = m.people, m.person, m.rows
    in_valid = _rows_of(people, person, rows, valid)
    absent = ~people["left"].to_numpy() & ~in_valid & ~_rows_of(people, person, rows, unchanged)
    if protected and absent.any():
        numbers = people["employee_number"].to_numpy()
        absent[absent] = [number not in protected for number in numbers[absent]]
    wanted: np.ndarray = in_valid | absent
    return wanted


def _rows_of(
    people: pd.DataFrame, person: np.ndarray, rows: pd.DataFrame, lines: pd.Index
) -> np.ndarray:
    """Per person (a bool each): whether one of the rows at ``lines`` is theirs. ``person``:
    each row's position in ``people`` (-1 if none). Positions, not a set of a million employee
    numbers."""
    at = person[rows.index.get_indexer(lines)]
    out = np.zeros(len(people), dtype=bool)
    out[at[at >= 0]] = True
    return out


def _unchanged_rows(
    rows: pd.DataFrame, digests: np.ndarray, people: pd.DataFrame, person: np.ndarray
) -> np.ndarray:
    """Rows that are, value for value, what the register last took from HR for an active
    employee whose directory entry is in line: their digest is the one stored. (Not for a
    10-digit personnummer: which century it means depends on the day.) ``person``: each row's
    position in ``people`` (-1 if none)."""
    known = np.flatnonzero(person >= 0)
    at = person[known]
    same = (
        people["has_digest"].to_numpy()[at]
        & (people["hr_digest"].to_numpy()[at] == digests[known])
        & ~people["left"].to_numpy()[at]
        & people["in_sync"].to_numpy()[at]
    )
    out = np.zeros(len(rows), dtype=bool)
    out[known[same]] = True
    if out.any():
        where = np.flatnonzero(out)
        pnr = rows["personnummer"].to_numpy(dtype=object)[where]
        out[where] = np.fromiter(map(len, pnr), dtype=np.int64, count=len(where)) >= 12
    return out


def _unchanged_frame(
    rows: pd.DataFrame, lines: pd.Index, people: pd.DataFrame, person: np.ndarray
) -> pd.DataFrame:
    """The rows at ``lines`` (trusted and valid) as `plan` takes them, indexed by line."""
    at = rows.index.get_indexer(lines)

    def column(name: str) -> np.ndarray:
        return np.asarray(rows[name].to_numpy(dtype=object)[at], dtype=object)

    return pd.DataFrame(
        {
            "employee_id": people["employee_id"].to_numpy()[person[at]],
            "employee_number": pd.Series(column("anstallningsnummer"), index=lines, dtype=object),
            "first_name": pd.Series(column("fornamn"), index=lines, dtype=object),
            "last_name": pd.Series(column("efternamn"), index=lines, dtype=object),
            "employment_end": pd.Series(column("anstallning_tom"), index=lines, dtype=object),
        },
        index=lines,
    )


def _protected(
    source: Session | Engine,
    municipality_id: int,
    checked: Validated,
    export: HrExport,
    vault: PersonnummerVault,
    today: date,
) -> set[str]:
    """The municipality's people whose row was quarantined: by employee number, or by a
    readable personnummer."""
    bad_rows = export.rows.loc[sorted(checked.quarantined_rows)]
    numbers = {n for n in bad_rows["anstallningsnummer"] if n}
    digits, _ = validate_personnummer_series(bad_rows["personnummer"], today=today)
    readable = digits.dropna()
    if len(readable):
        hashes = sorted(set(vault.lookup_hashes(Personnummer(d) for d in readable)))
        for part in _chunks(hashes):
            stmt = select(Employee.employee_number).where(
                Employee.municipality_id == municipality_id,
                Employee.personnummer_hash.in_(part),
            )
            numbers.update(number for (number,) in _driver_rows(source, stmt))
    return numbers
