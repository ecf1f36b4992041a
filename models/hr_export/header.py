"""The header row: where our columns sit in the file, under our names."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from models.hr_export.columns import HR_EXPORT_COLUMNS
from models.hr_export.errors import HrFileError


@dataclass(frozen=True)
class _Header:
    """Where our columns sit in the file (position per column) and what else is there."""

    width: int
    position: dict[str, int]
    names: tuple[str | None, ...]  # our name per file position, None for an extra column
    extra: tuple[str, ...]

    def column_at(self, position: int) -> str | None:
        """Our name of the column at ``position`` (None if extra or past the end)."""
        return self.names[position] if position < self.width else None


def _resolve_header(path: Path, raw_names: list[str], mapping: dict[str, str]) -> _Header:
    names = [mapping.get(n.strip(), n.strip()) for n in raw_names]
    ours: list[str | None] = [n if n in HR_EXPORT_COLUMNS else None for n in names]
    position: dict[str, int] = {}
    for i, name in enumerate(ours):
        if name is None:
            continue
        if name in position:
            raise HrFileError(
                path, "duplicate_column", "kolumnen finns flera gånger i rubrikraden", 1, name
            )
        position[name] = i
    missing = [c for c in HR_EXPORT_COLUMNS if c not in position]
    if missing:
        text = "kolumnen saknas i rubrikraden"
        if len(missing) > 1:
            text += f" (även {', '.join(missing[1:])} saknas)"
        raise HrFileError(path, "missing_column", text, 1, missing[0])
    extra = tuple(raw.strip() for raw, name in zip(raw_names, ours, strict=True) if name is None)
    return _Header(len(names), position, tuple(ours), extra)


def _known_count(raw_names: list[str], mapping: dict[str, str]) -> int:
    return sum(mapping.get(n.strip(), n.strip()) in HR_EXPORT_COLUMNS for n in raw_names)


def _split_line(line: str, separator: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=separator), [])
    except csv.Error:
        return line.split(separator)
