"""Two small pandas helpers the parts of the town share."""

from __future__ import annotations

import numpy as np
import pandas as pd


def nullable_ids(rows: np.ndarray) -> pd.arrays.IntegerArray:
    """1-based ids for 0-based row numbers; a negative row number means no row (NULL)."""
    ids = pd.array(rows + 1, dtype="Int64")
    ids[rows < 0] = pd.NA
    return ids


def numbered(values: pd.Series) -> pd.Series:
    """0 for the first occurrence of each value, 1 for the second …"""
    return values.groupby(values, sort=False).cumcount()
