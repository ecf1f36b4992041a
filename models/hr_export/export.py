"""What a read gives: every data row of one file as text, under our column names."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.hr_export.columns import HR_EXPORT_COLUMNS
from models.hr_export.errors import HrFileError
from models.hr_export.header import _Header


@dataclass(frozen=True)
class HrExport:
    """Every data row of one HR file, as text.

    ``rows`` has exactly :data:`HR_EXPORT_COLUMNS` as columns (``str`` dtype, values stripped,
    "" = empty) and the row's line number in the file as index (named ``row``; header = 1,
    first data row = 2; blank lines are skipped but keep their numbers). ``extra_columns`` are
    header names we don't know: ignored, for the report. ``sha256``: of the bytes read.
    """

    path: Path
    encoding: str
    rows: pd.DataFrame
    extra_columns: tuple[str, ...]
    sha256: str = ""

    def __repr__(self) -> str:  # counts only: the frame holds personal data
        return (
            f"HrExport(file={self.path.name!r}, encoding={self.encoding!r}, "
            f"rows={len(self.rows)}, extra_columns={len(self.extra_columns)})"
        )


def _frame(
    path: Path, header: _Header, body: pd.DataFrame, lines: np.ndarray, *, strip: bool = True
) -> pd.DataFrame:
    """Our columns, in our order, stripped; ``body`` has one column per file position.
    ``strip=False``: the caller knows no value has whitespace around it."""
    if len(body) == 0:
        raise HrFileError(
            path,
            "header_only",
            "filen har bara en rubrikrad och inga anställda (en tom export läses aldrig som "
            "att alla har slutat)",
            1,
        )
    n = len(body)
    index = _line_index(lines)
    columns = {}
    for name in HR_EXPORT_COLUMNS:
        raw = body.iloc[:, header.position[name]].to_numpy(dtype=object)
        if strip:
            raw = np.fromiter(map(str.strip, raw), dtype=object, count=n)
        columns[name] = pd.Series(_nfc(raw), index=index, dtype="str", copy=False)
    return pd.DataFrame(columns, index=index, copy=False)  # (each copy: a pass over them all)


def _nfc(values: np.ndarray) -> np.ndarray:
    """The values in one Unicode form (NFC), as the register stores them: "å" written as "a"
    and a combining ring is the same name. Checked for the whole column at once; most exports
    are NFC already and pass untouched."""
    if unicodedata.is_normalized("NFC", "\x1f".join(values)):
        return values
    return np.fromiter(
        (unicodedata.normalize("NFC", v) for v in values), dtype=object, count=len(values)
    )


def _line_index(lines: np.ndarray) -> pd.Index:
    """The rows' line numbers as an index: a RangeIndex when they follow each other (as a rule),
    which finds a line by arithmetic where another index would hash a million of them first."""
    lines = np.asarray(lines, dtype=np.int64)
    if len(lines) and (np.diff(lines) == 1).all():
        return pd.RangeIndex(int(lines[0]), int(lines[-1]) + 1, name="row")
    return pd.Index(lines, dtype=np.int64, name="row")
