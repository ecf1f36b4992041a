"""Whole-column checks for the validation: dates, duplicates, codes unknown to the register,
personnummer as integers (numpy over a million values, no loop over rows)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import numpy as np
import pandas as pd

from models.hr_export.columns import _lengths
from models.hr_export.digests import Distinct


def _parse_dates(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(datetime64[s] with NaT, ok, shaped) for YYYY-MM-DD strictly; "" gives NaT and ok=True;
    ``shaped`` marks values written YYYY-MM-DD (whether or not the date exists)."""
    n = len(values)
    empty = values == ""
    shaped = _lengths(values) == 10
    where = np.flatnonzero(shaped)
    if len(where):
        points = np.asarray(values[where], dtype="<U10").view(np.uint32).reshape(-1, 10)
        digits = (points >= ord("0")) & (points <= ord("9"))
        dash = points == ord("-")
        good = digits[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & dash[:, 4] & dash[:, 7]
        shaped[where] = good
    parsed = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    where = np.flatnonzero(shaped)
    if len(where):
        converted = pd.to_datetime(
            pd.Series(values[where], dtype="str"), format="%Y-%m-%d", errors="coerce"
        )
        parsed[where] = converted.to_numpy(dtype="datetime64[s]")
    ok = empty | ~np.isnat(parsed)
    return parsed, ok, shaped


def _duplicated(values: np.ndarray, consider: np.ndarray) -> np.ndarray:
    """Rows whose value (among ``consider``) is shared with another considered row."""
    out = np.zeros(len(values), dtype=bool)
    where = np.flatnonzero(consider)
    if len(where):
        out[where] = pd.Series(values[where]).duplicated(keep=False).to_numpy()
    return out


def _duplicated_keys(values: np.ndarray, consider: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """:func:`_duplicated`, counting ``keys`` (>= 0: equal keys, equal values) instead of
    hashing the values; values without a key are compared among themselves."""
    keyed = consider & (keys >= 0)
    out = np.zeros(len(values), dtype=bool)
    if keyed.any():
        counts = np.bincount(keys[keyed])
        out[keyed] = counts[keys[keyed]] > 1
    rest = np.flatnonzero(consider & ~keyed)
    out[rest] = _duplicated(values[rest], np.ones(len(rest), dtype=bool))
    return out


def _none_if_empty(values: np.ndarray, index: pd.Index) -> pd.Series:
    out = values.copy()
    out[out == ""] = None
    return pd.Series(out, index=index, dtype=object)


def _categories(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Checked categories ("", "1", "2", "3") as Int8, <NA> for ""."""
    empty = values == ""
    numbers = np.zeros(len(values), dtype=np.int8)
    if (~empty).any():
        points = np.asarray(values[~empty], dtype="<U1").view(np.uint32)
        numbers[~empty] = points - ord("0")
    return pd.arrays.IntegerArray(numbers, empty)


def _unknown(
    values: np.ndarray, *known: Collection[str] | np.ndarray, distinct: Distinct | None = None
) -> np.ndarray:
    """Rows whose value is not empty and in none of ``known``, looked up once per distinct
    value (``distinct``: the values', if found already): in a unique pd.Index through the
    index's own hash table, in an array (a column of the file) by one pass over it for the
    values still missing (none, as a rule), never a set of a million values."""
    codes, uniques = distinct if distinct is not None else pd.factorize(values)
    missing = uniques != ""
    for k in known:
        at = np.flatnonzero(missing)
        if not len(at):
            break
        candidates = uniques[at]
        if isinstance(k, pd.Index) and k.is_unique:
            missing[at] = k.get_indexer(candidates) < 0
        elif isinstance(k, np.ndarray):
            there = pd.Series(k).isin(candidates).to_numpy()
            missing[at] = ~pd.Series(candidates).isin(k[there]).to_numpy()
        else:
            known_set = k if isinstance(k, set | frozenset) else set(k)
            missing[at] = [v not in known_set for v in candidates]
    if not missing.any():
        return np.zeros(len(values), dtype=bool)
    return np.asarray(missing[codes], dtype=bool)


def _written_digits_key(texts: np.ndarray) -> np.ndarray:
    """Personnummer known to be valid and written with the century (12 digits, or 13
    characters with the separator before the last four) as their 12 digits in an int64:
    hashing ints beats hashing strings. Each length's texts end to end, as code points: no
    array of a million fixed-width strings."""
    key = np.zeros(len(texts), dtype=np.int64)
    lengths = _lengths(texts)
    for width in (12, 13):
        at = np.flatnonzero(lengths == width)
        if len(at):
            joined = "".join(texts[at].tolist()).encode("utf-32-le")
            points = np.frombuffer(joined, dtype=np.uint32).reshape(len(at), width)
            # Code points times places, in uint32 ("9" is 57: 57 × 11,111,111 fits), less the
            # zeros' share: YYYYMMDD, then the last four.
            date = (points[:, :8] @ _PLACES[:8]).astype(np.int64) - _ZEROS[0]
            last = (points[:, -4:] @ _PLACES[8:]).astype(np.int64) - _ZEROS[1]
            key[at] = date * 10_000 + last
    return key


_PLACES: Final = 10 ** np.array([7, 6, 5, 4, 3, 2, 1, 0, 3, 2, 1, 0], dtype=np.uint32)
_ZEROS: Final = (48 * int(_PLACES[:8].sum()), 48 * int(_PLACES[8:].sum()))


def _digits_key(digits: pd.Series) -> np.ndarray:
    """:func:`_written_digits_key` of validated digits (0 where there is no valid number)."""
    valid = digits.notna().to_numpy()
    key = np.zeros(len(digits), dtype=np.int64)
    key[valid] = _written_digits_key(digits[valid].to_numpy(dtype=object))
    return key


def _samordning(digits: np.ndarray) -> np.ndarray:
    """Day of month + 60 in 12 valid digits YYYYMMDDNNNC."""
    if not len(digits):
        return np.zeros(0, dtype=bool)
    points = np.asarray(digits, dtype="<U12").view(np.uint32).reshape(-1, 12).astype(np.int64)
    day = (points[:, 6] - 48) * 10 + points[:, 7] - 48
    return day > 60
