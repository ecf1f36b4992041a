"""What validation gives: the valid rows and the quarantine, collected column by column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from models.hr_export.columns import HR_EXPORT_COLUMNS
from models.hr_export.reasons import REASON_TEXT, Reason

OPTIONAL_TEXT: Final = {
    "epost": "email",
    "titel": "title",
    "anvandarid": "user_id",
    "besoksadress": "visiting_address",
    "chef_anstallningsnummer": "manager_number",
    "sokord": "keywords",
}
QUARANTINE_COLUMNS: Final = ("row", "employee_number", "field", "reason", "detail")


@dataclass(frozen=True)
class Validated:
    """Valid rows ready to apply, and the quarantine (one row per (line, field) problem).

    ``valid`` (index = line number, named ``row``): employee_number, personnummer (12 digits),
    samordning (bool), first_name, last_name (str); email, title, user_id (object, None when
    empty); unit_code, cost_centre_code (str); visiting_address, manager_number, keywords
    (object, None when empty); employment_start, employment_end (datetime64[s]; end NaT = until
    further notice); need_category (Int8, <NA> when empty).

    ``quarantine``: row (int64), employee_number (str, may be ""), field (our column name),
    reason (a :class:`Reason` value), detail (Swedish, never a personal value). Sorted by row,
    then column order.

    ``trusted``: line numbers of rows that :func:`validate` was told to trust and that passed;
    they are valid too, but only their line numbers are given (the caller has their values).
    """

    valid: pd.DataFrame
    quarantine: pd.DataFrame
    #: Line numbers of the rows given as ``trusted`` that passed (they are not in ``valid``).
    trusted: pd.Index = field(default_factory=lambda: pd.Index([], dtype=np.int64, name="row"))

    @property
    def quarantined_rows(self) -> set[int]:
        """Line numbers with at least one problem."""
        return set(self.quarantine["row"].unique().tolist())

    def __repr__(self) -> str:
        return (
            f"Validated(valid={len(self.valid)}, trusted={len(self.trusted)}, "
            f"quarantined_rows={len(self.quarantined_rows)}, problems={len(self.quarantine)})"
        )


class _Problems:
    """Collects (mask, field, reason, detail) over whole columns."""

    def __init__(self, line: np.ndarray, employee_number: np.ndarray) -> None:
        self.line = line
        self.employee_number = employee_number
        self.parts: list[pd.DataFrame] = []
        self.bad = np.zeros(len(line), dtype=bool)

    def add(
        self,
        mask: np.ndarray,
        field: str,
        reason: Reason,
        detail: str | np.ndarray | Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        where = np.flatnonzero(mask)
        if not len(where):
            return
        self.bad[where] = True
        if callable(detail):
            detail = detail(where)
        self.parts.append(
            pd.DataFrame(
                {
                    "row": self.line[where],
                    "employee_number": self.employee_number[where],
                    "field": field,
                    "reason": reason.value,
                    "detail": REASON_TEXT[reason] if detail is None else detail,
                }
            )
        )

    def table(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(
                {
                    "row": pd.Series(dtype=np.int64),
                    "employee_number": pd.Series(dtype="str"),
                    "field": pd.Series(dtype="str"),
                    "reason": pd.Series(dtype="str"),
                    "detail": pd.Series(dtype="str"),
                }
            )
        table = pd.concat(self.parts, ignore_index=True)
        order = {name: i for i, name in enumerate(HR_EXPORT_COLUMNS)}
        table["_order"] = table["field"].map(order)
        table = table.sort_values(["row", "_order"], kind="stable").drop(columns="_order")
        table = table.reset_index(drop=True)
        table["row"] = table["row"].astype(np.int64)
        for column in ("employee_number", "field", "reason", "detail"):
            table[column] = table[column].astype("str")
        return table
