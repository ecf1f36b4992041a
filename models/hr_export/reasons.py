"""Why a row is quarantined: the reason codes, their Swedish texts, the details built per
row (row numbers, lengths and codes, never a personal value), and the quarantine as people
read it (`quarantine_for_people`: Swedish headers, a Swedish sentence per reason)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Final

import numpy as np
import pandas as pd

from models.personnummer import InvalidPersonnummer


class Reason(StrEnum):
    """Why a (row, field) is quarantined; :data:`REASON_TEXT` has the Swedish explanation."""

    MISSING = "missing"
    TOO_LONG = "too_long"
    INVALID_PERSONNUMMER = "invalid_personnummer"
    INVALID_EMAIL = "invalid_email"
    INVALID_DATE = "invalid_date"
    END_BEFORE_START = "end_before_start"
    INVALID_CATEGORY = "invalid_category"
    UNKNOWN_UNIT = "unknown_unit"
    UNKNOWN_COST_CENTRE = "unknown_cost_centre"
    DUPLICATE_EMPLOYEE_NUMBER = "duplicate_employee_number"
    DUPLICATE_PERSONNUMMER = "duplicate_personnummer"
    DUPLICATE_USER_ID = "duplicate_user_id"
    UNKNOWN_MANAGER = "unknown_manager"
    CONTROL_CHARACTER = "control_character"


REASON_TEXT: Final[Mapping[Reason, str]] = {
    Reason.MISSING: "obligatoriskt fält saknar värde",
    Reason.TOO_LONG: "värdet är längre än registret tillåter",
    Reason.INVALID_PERSONNUMMER: "ogiltigt personnummer",
    Reason.INVALID_EMAIL: "ogiltig e-postadress (förväntat namn@domän.se)",
    Reason.INVALID_DATE: "ogiltigt datum (förväntat ÅÅÅÅ-MM-DD, ett datum som finns)",
    Reason.END_BEFORE_START: "anställningen slutar före den börjar",
    Reason.INVALID_CATEGORY: "behovskategori måste vara 1, 2, 3 eller tom",
    Reason.UNKNOWN_UNIT: "organisationsenheten finns inte i registret",
    Reason.UNKNOWN_COST_CENTRE: "kostnadsstället finns inte i registret",
    Reason.DUPLICATE_EMPLOYEE_NUMBER: "samma anställningsnummer finns på flera rader",
    Reason.DUPLICATE_PERSONNUMMER: "samma personnummer finns på flera rader",
    Reason.DUPLICATE_USER_ID: "samma användar-id finns på flera rader",
    Reason.UNKNOWN_MANAGER: "chefens anställningsnummer finns varken i filen eller i registret",
    Reason.CONTROL_CHARACTER: "värdet innehåller styrtecken (t.ex. radbrytning eller tabb)",
}


#: The quarantine's columns as people read them (the run's artifact, the contact centre's XLSX).
QUARANTINE_HEADERS: Final[Mapping[str, str]] = {
    "row": "rad",
    "employee_number": "anställningsnummer",
    "field": "fält",
    "reason": "orsak",
}
_UNKNOWN_REASON: Final = "felaktigt värde"


def reason_sentence(reason: str, detail: str | None = None) -> str:
    """A quarantine row's reason as one Swedish sentence: the row's own detail where it says
    more than the reason's text ("ogiltigt personnummer (kontrollsiffran stämmer inte)"), else
    the reason's text. Never the code: the database keeps the codes, people read this."""
    try:
        general = REASON_TEXT[Reason(reason)]
    except ValueError:
        general = ""
    said = (detail or "").strip()
    if not said or said == general:
        return general or _UNKNOWN_REASON
    if general and said.startswith(general + ": "):
        return f"{general} ({said[len(general) + 2 :]})"
    return said


def quarantine_for_people(
    quarantine: pd.DataFrame, column_names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The quarantine (`Validated.quarantine`, or its rows read back) with Swedish headers
    (:data:`QUARANTINE_HEADERS`), the field as HR's file names it and the reason as a
    sentence (`reason_sentence`). ``column_names``: the municipality's map of HR's headers to
    ours (``hr_column_map``); a field it does not rename keeps the default format's name.
    Holds no personal value: a row is named by its number and employee number only."""
    theirs = {ours: header for header, ours in (column_names or {}).items()}
    details = (
        quarantine["detail"] if "detail" in quarantine else pd.Series("", index=quarantine.index)
    )
    return pd.DataFrame(
        {
            QUARANTINE_HEADERS["row"]: quarantine["row"].to_numpy(),
            QUARANTINE_HEADERS["employee_number"]: quarantine["employee_number"].to_numpy(),
            QUARANTINE_HEADERS["field"]: [theirs.get(f, f) for f in quarantine["field"]],
            QUARANTINE_HEADERS["reason"]: [
                reason_sentence(str(r), None if pd.isna(d) else str(d))
                for r, d in zip(quarantine["reason"], details, strict=True)
            ],
        }
    )


# Codes (units, cost centres, employee numbers) are echoed in details only when they look like
# one: at most four letters then one to eight digits. A name or a personnummer never does.
_CODE_LIKE = re.compile(r"[A-Za-z]{0,4}[0-9]{1,8}")


_MAX_LISTED_ROWS: Final = 5
_DATE_FORMAT: Final = "ogiltigt datum (förväntat ÅÅÅÅ-MM-DD)"
_NO_SUCH_DATE: Final = "datumet finns inte (ÅÅÅÅ-MM-DD)"
_PERSONNUMMER_TEXT: Final = {
    r: str(InvalidPersonnummer(r)) for r in ("empty", "format", "date", "checksum", "future")
}


def _rows_listing(
    line: np.ndarray, key: np.ndarray, noun: str
) -> Callable[[np.ndarray], np.ndarray]:
    """Detail for duplicates: which rows share the value (row numbers only, never the value)."""

    def detail(where: np.ndarray) -> np.ndarray:
        keys = key[where]
        listing = pd.Series(line[where]).groupby(keys, sort=False).agg(_listing)
        text = "samma " + noun + " på raderna " + pd.Series(keys).map(listing)
        return np.asarray(text.to_numpy(dtype=object), dtype=object)

    return detail


def _listing(rows: pd.Series) -> str:
    numbers = sorted(rows.tolist())
    text = ", ".join(map(str, numbers[:_MAX_LISTED_ROWS]))
    if len(numbers) > _MAX_LISTED_ROWS:
        text += f" m.fl. ({len(numbers)} rader)"
    return text


def _too_long(length: np.ndarray, limit: int) -> Callable[[np.ndarray], np.ndarray]:
    def detail(where: np.ndarray) -> np.ndarray:
        texts = [f"för långt värde ({n} tecken, högst {limit})" for n in length[where]]
        return np.asarray(texts, dtype=object)

    return detail


def _date_detail(shaped: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Written YYYY-MM-DD but no such day, or not written YYYY-MM-DD at all."""

    def detail(where: np.ndarray) -> np.ndarray:
        return np.where(shaped[where], _NO_SUCH_DATE, _DATE_FORMAT).astype(object)

    return detail


def _personnummer_detail(reasons: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def detail(where: np.ndarray) -> np.ndarray:
        return np.asarray([_PERSONNUMMER_TEXT[r] for r in reasons[where]], dtype=object)

    return detail


def _code_detail(
    values: np.ndarray, known: str, unknown: str
) -> Callable[[np.ndarray], np.ndarray]:
    """``known`` with {code} filled in when the value looks like a code, else ``unknown``."""

    def detail(where: np.ndarray) -> np.ndarray:
        return np.asarray(
            [known.format(code=v) if _CODE_LIKE.fullmatch(v) else unknown for v in values[where]],
            dtype=object,
        )

    return detail
