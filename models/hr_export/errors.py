"""What a file that can't be read raises: the reason, in Swedish, with the file, the row and
the column, never a cell value."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _where(path: Path, row: int | None, field: str | None) -> str:
    parts = [path.name]
    if row is not None:
        parts.append(f"rad {row}")
    if field is not None:
        parts.append(f"kolumn {field}")
    return ", ".join(parts)


class HrFileError(ValueError):
    """The file as a whole can't be read. Never retried.

    ``reason`` is a short code: empty, header_only, encoding, separator, not_a_table,
    missing_column, duplicate_column, too_many_fields, too_few_fields, quoting,
    unclosed_quote (and truncated for :class:`HrFileIncomplete`). ``str(e)`` is Swedish,
    names the file, the row (file line number; header = rad 1) and the column where there is
    one, and never holds a cell value.
    """

    path: Path
    row: int | None
    field: str | None
    reason: str

    def __init__(
        self,
        path: Path,
        reason: str,
        text: str,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.reason = reason
        self.text = text
        self.row = row
        self.field = field
        super().__init__(f"{_where(self.path, row, field)}: {text}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason, self.text, self.row, self.field))


class HrFileIncomplete(HrFileError):
    """The file looks like it is still being written (e.g. cut mid-row: the last line has
    fewer fields and no line end). Retrying later may help."""


def _incomplete(path: Path, row: int, field: str | None, detail: str = "") -> HrFileIncomplete:
    return HrFileIncomplete(
        path,
        "truncated",
        f"filen slutar mitt i en rad{detail} och skrivs troligen fortfarande; försök igen senare",
        row,
        field,
    )
