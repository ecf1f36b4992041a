"""The HR export of the town: the file HR would drop for the nightly directory sync."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from models.hr_export import HR_EXPORT_COLUMNS

if TYPE_CHECKING:
    from telefoni.demo.town import Town


def hr_export_frame(town: Town) -> pd.DataFrame:
    """The HR export as text (empty string = no value), columns as in HR_EXPORT_COLUMNS."""
    e = town.employees
    unit_code = pd.Series(town.units["code"].to_numpy(), index=town.units["id"].to_numpy())
    cc_code = pd.Series(
        town.cost_centres["code"].to_numpy(), index=town.cost_centres["id"].to_numpy()
    )
    number_of = pd.Series(e["employee_number"].to_numpy(), index=e["id"].to_numpy())
    columns = (
        e["employee_number"],
        e["personnummer"],
        e["first_name"],
        e["last_name"],
        e["email"],
        e["title"],
        e["user_id"],
        e["unit_id"].map(unit_code),
        e["cost_centre_id"].map(cc_code),
        e["visiting_address"],
        e["manager_id"].map(number_of),
        e["employment_start"].map(date.isoformat),
        e["employment_end"].map(lambda d: None if d is None else d.isoformat()),
        e["need_category"],
        e["keywords"],
    )
    return pd.DataFrame(
        {name: _text(col) for name, col in zip(HR_EXPORT_COLUMNS, columns, strict=True)}
    )


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


def write_hr_export(town: Town, path: Path) -> None:
    """Write the HR export: `;`-separated UTF-8 with BOM, or XLSX when the name ends in .xlsx."""
    frame = hr_export_frame(town)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        _write_xlsx(frame, path)
    else:
        frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Anställda")
    sheet.append(list(HR_EXPORT_COLUMNS))

    def cell(value: str) -> Any:
        if not value:
            return None
        if value.startswith("="):  # openpyxl would store it as a formula: force text
            text_cell = WriteOnlyCell(sheet, value=value)
            text_cell.data_type = "s"
            return text_cell
        return value

    for row in frame.itertuples(index=False, name=None):
        sheet.append([cell(v) for v in row])
    book.save(path)
