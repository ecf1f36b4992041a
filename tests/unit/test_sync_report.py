"""The contact centre's XLSX: what Excel (here openpyxl and pandas, its readers) shows."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pandas as pd

from models.hr_export import REASON_TEXT, Reason
from models.personnummer import InvalidPersonnummer
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


def test_quarantined_rows_get_their_own_sheet_in_swedish() -> None:
    """Headers and reasons as people read them, the field as HR's file names it; the codes
    never show."""
    data = changes_workbook(
        _changes(),
        _quarantine(
            (4, "A1004", "epost", Reason.INVALID_EMAIL, REASON_TEXT[Reason.INVALID_EMAIL]),
            (
                9,
                "",
                "personnummer",
                Reason.INVALID_PERSONNUMMER,
                str(InvalidPersonnummer("checksum")),
            ),
            (
                12,
                "A1012",
                "organisationsenhet",
                Reason.UNKNOWN_UNIT,
                "organisationsenheten U9 finns inte i registret",
            ),
            (13, "A1013", "titel", "ett_okant_fel", ""),
        ),
        {"Enhet": "organisationsenhet"},
    )
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, dtype=str, keep_default_na=False)

    assert list(sheets) == ["Ändringar", "Karantän"]
    assert list(sheets["Ändringar"].columns) == COLUMNS and sheets["Ändringar"].empty
    quarantine = sheets["Karantän"]
    assert list(quarantine.columns) == ["rad", "anställningsnummer", "fält", "orsak"]
    assert quarantine.values.tolist() == [
        ["4", "A1004", "epost", "ogiltig e-postadress (förväntat namn@domän.se)"],
        ["9", "", "personnummer", "ogiltigt personnummer (kontrollsiffran stämmer inte)"],
        ["12", "A1012", "Enhet", "organisationsenheten U9 finns inte i registret"],
        ["13", "A1013", "titel", "felaktigt värde"],  # an unknown code is not shown
    ]


def test_a_long_list_is_one_sheet_of_all_rows() -> None:
    n = 5000
    changes = _changes(*((f"A{i}", f"Namn {i}", "ändrad", "titel", "a", "b") for i in range(n)))
    data = changes_workbook(changes, _quarantine())

    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    frame = pd.read_excel(io.BytesIO(data), dtype=str)
    assert len(frame) == n and frame["anställningsnummer"].iloc[-1] == f"A{n - 1}"
