"""What the contact centre receives after a directory sync: the e-mail's facts and the XLSX."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from typing import Any, Protocol
from xml.sax.saxutils import escape

import pandas as pd

from models.hr_export.reasons import quarantine_for_people
from models.wording import counted

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
    offboardings_started: int
    changes: pd.DataFrame
    quarantine: pd.DataFrame


def summary_context(
    facts: SyncFacts, *, municipality: str, run_url: str | None = None
) -> dict[str, Any]:
    """Template context for `katalogsynk`: counts and a short preview, in Swedish;
    ``run_url``: the run in the Prefect UI, if the run is a flow run."""
    preview = facts.changes.head(PREVIEW_ROWS)
    return {
        "headline": headline(facts),
        "run_url": run_url,
        "municipality": municipality,
        "file_name": facts.file_name,
        "run_id": facts.sync_run_id,
        "rows_read": facts.rows_read,
        "joiners": facts.joiners,
        "changed": facts.changed,
        "leavers": facts.leavers,
        "quarantined": facts.rows_quarantined,
        "offboardings": started_sv(facts.offboardings_started)
        if facts.offboardings_started
        else "",
        "preview": preview.to_dict("records"),
        "more": max(len(facts.changes) - PREVIEW_ROWS, 0),
    }


def started_sv(n: int) -> str:
    """ "3 avslut startade": the offboardings a run started, as the contact centre reads it."""
    return f"{counted(n, 'avslut', 'avslut')} {'startat' if n == 1 else 'startade'}"


def headline(facts: SyncFacts) -> str:
    """The mail's subject: "Kunddatabasen: 12 nya, 3 ändrade, 1 borttagen, 1 rad i karantän"."""
    text = (
        f"Kunddatabasen: {counted(facts.joiners, 'ny', 'nya')}, "
        f"{counted(facts.changed, 'ändrad', 'ändrade')}, "
        f"{counted(facts.leavers, 'borttagen', 'borttagna')}"
    )
    if facts.rows_quarantined:
        text += f", {counted(facts.rows_quarantined, 'rad', 'rader')} i karantän"
    return text


def _cells(values: pd.Series, letter: str, rows: pd.Series) -> pd.Series:
    """Each value as an inline-string cell of column ``letter`` ("" for an empty value): always
    text, so "=..." never becomes a formula; characters XML cannot carry (control characters)
    are left out. Column-wise string operations, not a Python call per cell."""
    empty = values.isna().to_numpy()
    text = values.astype(object).where(~empty, "").astype(str)
    if text.str.contains(_NOT_XML).any():
        text = text.str.replace(_NOT_XML, "", regex=True)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        if text.str.contains(char, regex=False).any():
            text = text.str.replace(char, entity, regex=False)
    cells = f'<c r="{letter}' + rows + '" t="inlineStr"><is><t xml:space="preserve">' + text
    return (cells + "</t></is></c>").where(~empty, "")


def _sheet_xml(frame: pd.DataFrame) -> bytes:
    """One worksheet: the header, then a row per row of `frame`, every cell an inline string."""
    table = pd.concat([pd.DataFrame([list(frame.columns)]), _positional(frame)], ignore_index=True)
    rows = pd.Series(range(1, len(table) + 1)).astype(str)
    xml = '<row r="' + rows + '">'
    for i in range(table.shape[1]):
        xml = xml + _cells(table[i], _column_letter(i), rows)
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + _SHEET_OPEN
    return (head + "</row>".join(xml) + "</row></sheetData></worksheet>").encode()


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {i: frame.iloc[:, i].to_numpy(dtype=object) for i in range(frame.shape[1])},
        index=range(len(frame)),
    )


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def changes_workbook(
    changes: pd.DataFrame,
    quarantine: pd.DataFrame,
    column_names: Mapping[str, str] | None = None,
) -> bytes:
    """The full change list and the quarantined rows as an XLSX file; the quarantine as people
    read it (`quarantine_for_people`; ``column_names``: the municipality's HR column map).

    Written as the few XML parts an XLSX needs (a sheet of inline strings each): for a list of
    thousands of changes openpyxl's writer took a third of a second, this takes a hundredth."""
    sheets: list[tuple[str, pd.DataFrame]] = [("Ändringar", changes)]
    if len(quarantine):
        sheets.append(("Karantän", quarantine_for_people(quarantine, column_names)))
    numbers = range(1, len(sheets) + 1)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        book.writestr("[Content_Types].xml", _content_types(len(sheets)))
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _workbook([title for title, _ in sheets]))
        book.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        book.writestr("xl/styles.xml", _STYLES)
        for n, (_, frame) in zip(numbers, sheets, strict=True):
            book.writestr(f"xl/worksheets/sheet{n}.xml", _sheet_xml(frame))
    return out.getvalue()


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEET_OPEN = f'<worksheet xmlns="{_MAIN}"><sheetData>'
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _content_types(sheets: int) -> str:
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{sheet_type}"/>'
        for n in range(1, sheets + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )


def _workbook(titles: list[str]) -> str:
    sheets = "".join(
        f'<sheet name="{escape(title, {chr(34): "&quot;"})}" sheetId="{n}" r:id="rId{n}"/>'
        for n, title in enumerate(titles, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{sheets}</sheets></workbook>'
    )


def _workbook_rels(sheets: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    styles = f'<Relationship Id="rId{sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL}">{rels}{styles}</Relationships>'
    )
