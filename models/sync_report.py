"""What the contact centre receives after a directory sync: the e-mail's facts and the XLSX."""

from __future__ import annotations

import io
from typing import Any, Protocol

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from models.hr_export import REASON_TEXT

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PREVIEW_ROWS = 20


class SyncFacts(Protocol):
    file_name: str
    sync_run_id: int | None
    rows_read: int
    rows_applied: int
    rows_unchanged: int
    rows_quarantined: int
    joiners: int
    changed: int
    leavers: int
    changes: pd.DataFrame
    quarantine: pd.DataFrame


def summary_context(facts: SyncFacts, *, municipality: str) -> dict[str, Any]:
    """Template context for `katalogsynk`: counts and a short preview, in Swedish."""
    preview = facts.changes.head(PREVIEW_ROWS)
    return {
        "municipality": municipality,
        "file_name": facts.file_name,
        "run_id": facts.sync_run_id,
        "rows_read": facts.rows_read,
        "joiners": facts.joiners,
        "changed": facts.changed,
        "leavers": facts.leavers,
        "quarantined": facts.rows_quarantined,
        "preview": preview.to_dict("records"),
        "more": max(len(facts.changes) - PREVIEW_ROWS, 0),
    }


def _text_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    cell = WriteOnlyCell(sheet, value=str(value))
    cell.data_type = "s"  # user text is text: "=..." never becomes a formula
    return cell


def changes_workbook(changes: pd.DataFrame, quarantine: pd.DataFrame) -> bytes:
    """The full change list and the quarantined rows as an XLSX file."""
    book = Workbook(write_only=True)
    sheets: list[tuple[str, pd.DataFrame]] = [("Ändringar", changes)]
    if len(quarantine):
        q = pd.DataFrame(
            {
                "rad i filen": quarantine["row"],
                "anställningsnummer": quarantine["employee_number"],
                "fält": quarantine["field"],
                "orsak": quarantine["reason"].map(lambda r: REASON_TEXT.get(r, str(r))),
                "detalj": quarantine["detail"],
            }
        )
        sheets.append(("Karantän", q))
    for title, frame in sheets:
        sheet = book.create_sheet(title)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            sheet.append([_text_cell(sheet, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
