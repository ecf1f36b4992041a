"""The contact centre's XLSX: what Excel (here openpyxl and pandas, its readers) shows."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pandas as pd

from models.hr_export import REASON_TEXT, Reason
from models.sync_report import changes_workbook

COLUMNS = ["anställningsnummer", "namn", "ändring", "fält", "före", "efter"]


def _changes(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def _quarantine(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["row", "employee_number", "field", "reason", "detail"])


def test_every_change_is_a_row_of_text_as_written() -> None:
    changes = _changes(
        ("A1001", "Åsa Öberg", "ändrad", "titel", "Lärare", '=HYPERLINK("x")'),
        ("A1002", 'Bo <&> "Ek"', "ny", "", "", None),
        ("A1003", "Ulla\x07 Bell", "borttagen", "", float("nan"), "slutat 2026-11-27"),
    )
    book = openpyxl.load_workbook(io.BytesIO(changes_workbook(changes, _quarantine())))

    assert book.sheetnames == ["Ändringar"]
    sheet = book["Ändringar"]
    assert list(sheet.values) == [
        tuple(COLUMNS),
        ("A1001", "Åsa Öberg", "ändrad", "titel", "Lärare", '=HYPERLINK("x")'),
        ("A1002", 'Bo <&> "Ek"', "ny", "", "", None),
        ("A1003", "Ulla Bell", "borttagen", "", None, "slutat 2026-11-27"),  # no control char
    ]
    assert sheet.cell(row=2, column=6).data_type == "s"  # a formula's text, never a formula


def test_quarantined_rows_get_their_own_sheet_with_the_reason_in_swedish() -> None:
    data = changes_workbook(
        _changes(),
        _quarantine(
            (4, "A1004", "epost", Reason.INVALID_EMAIL, "saknar @"),
            (9, "", "personnummer", "x", ""),
        ),
    )
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, dtype=str, keep_default_na=False)

    assert list(sheets) == ["Ändringar", "Karantän"]
    assert list(sheets["Ändringar"].columns) == COLUMNS and sheets["Ändringar"].empty
    rows = sheets["Karantän"].to_dict("records")
    assert [r["rad i filen"] for r in rows] == ["4", "9"]
    assert rows[0]["fält"] == "epost" and rows[0]["detalj"] == "saknar @"
    assert rows[0]["orsak"] == REASON_TEXT[Reason.INVALID_EMAIL]  # the code, told in Swedish
    assert rows[1]["orsak"] == "x"  # an unknown code is shown as it is


def test_a_long_list_is_one_sheet_of_all_rows() -> None:
    n = 5000
    changes = _changes(*((f"A{i}", f"Namn {i}", "ändrad", "titel", "a", "b") for i in range(n)))
    data = changes_workbook(changes, _quarantine())

    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    frame = pd.read_excel(io.BytesIO(data), dtype=str)
    assert len(frame) == n and frame["anställningsnummer"].iloc[-1] == f"A{n - 1}"
