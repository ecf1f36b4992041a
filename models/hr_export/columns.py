"""The HR export's columns (the default format's, in file order, with their limits) and
the columns of a frame as arrays of text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd

#: The default format's columns, in file order.
HR_EXPORT_COLUMNS: Final[tuple[str, ...]] = (
    "anstallningsnummer",
    "personnummer",
    "fornamn",
    "efternamn",
    "epost",
    "titel",
    "anvandarid",
    "organisationsenhet",
    "kostnadsstalle",
    "besoksadress",
    "chef_anstallningsnummer",
    "anstallning_from",
    "anstallning_tom",
    "behovskategori",
    "sokord",
)
REQUIRED_FIELDS: Final = (
    "anstallningsnummer",
    "personnummer",
    "fornamn",
    "efternamn",
    "organisationsenhet",
    "kostnadsstalle",
    "anstallning_from",
)
#: Longest value per column, as the register's columns allow.
MAX_LENGTH: Final[Mapping[str, int]] = {
    "anstallningsnummer": 20,
    "fornamn": 100,
    "efternamn": 100,
    "epost": 254,
    "titel": 200,
    "anvandarid": 50,
    "besoksadress": 300,
    "sokord": 500,
}
CATEGORIES: Final = ("", "1", "2", "3")


def _text_column(values: pd.Series) -> np.ndarray:
    """Object array of str ("" for missing); may share memory with ``values``: read only."""
    if not isinstance(values.dtype, pd.StringDtype):  # not from read_hr_export: make it text
        values = values.astype(object).where(values.notna(), "").astype("str")
    if values.dtype.na_value is np.nan:  # the "str" dtype: NaN is the only value unequal to itself
        objects = np.asarray(values.to_numpy(dtype=object), dtype=object)
        if not (objects != objects).any():  # nothing missing (always, from read_hr_export)
            return objects
    return np.asarray(values.to_numpy(dtype=object, na_value=""), dtype=object)


def _lengths(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))
