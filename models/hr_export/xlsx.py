"""XLSX files: the first sheet of a workbook, each cell as the text a CSV export would hold."""

from __future__ import annotations

import io
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from models.hr_export.encoding import _ZIP_MAGIC
from models.hr_export.errors import HrFileError, _incomplete
from models.hr_export.export import HrExport, _frame
from models.hr_export.header import _known_count, _resolve_header


def _read_xlsx(path: Path, data: bytes, mapping: dict[str, str]) -> HrExport:
    if not data.strip():
        raise HrFileError(path, "empty", "filen är tom")
    try:
        table = _xlsx_rows(data)
    except Exception:  # openpyxl/zipfile text may quote the content: never pass it on
        if data.startswith(_ZIP_MAGIC) and not _zip_complete(data):
            raise _incomplete(path, 1, None, " (XLSX-filen är inte färdigskriven)") from None
        raise HrFileError(
            path, "not_a_table", "filen går inte att läsa som en XLSX-arbetsbok"
        ) from None
    while table and _blank(table[-1]):
        table.pop()
    if not table:
        raise HrFileError(path, "empty", "arbetsbokens första blad är tomt")
    raw_header = list(table[0])
    while raw_header and not raw_header[-1]:
        raw_header.pop()
    if _known_count(raw_header, mapping) == 0:
        raise HrFileError(
            path,
            "not_a_table",
            "rubrikraden har inga kända kolumnnamn (saknas rubrikraden, eller är det fel blad?)",
            1,
        )
    header = _resolve_header(path, raw_header, mapping)
    width = header.width
    records: list[list[str]] = []
    lines: list[int] = []
    for number, values in enumerate(table[1:], start=2):
        if _blank(values):
            continue  # an empty row
        if not _blank(values[width:]):
            raise HrFileError(
                path,
                "too_many_fields",
                f"raden har värden till höger om sista rubriken (rubrikraden har {width} kolumner)",
                number,
            )
        record = list(values[:width])
        record.extend([""] * (width - len(record)))
        records.append(record)
        lines.append(number)
    body = pd.DataFrame(records, columns=list(range(width)), dtype=object)
    rows = _frame(path, header, body, np.asarray(lines, dtype=np.int64))
    return HrExport(path=path, encoding="xlsx", rows=rows, extra_columns=header.extra)


def _blank(values: tuple[str, ...]) -> bool:
    return not any(v.strip() for v in values)


def _xlsx_rows(data: bytes) -> list[tuple[str, ...]]:
    from openpyxl import load_workbook

    # data_only=False: a formula is read as its text, never evaluated or replaced by a cache.
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        sheet = book.worksheets[0]
        return [tuple(map(_cell_text, row)) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _zip_complete(data: bytes) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.testzip() is None
    except Exception:
        return False


def _cell_text(value: object) -> str:
    """A cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
