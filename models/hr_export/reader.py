"""Reading an HR export: a workbook or a text file, the usual one fast, any other carefully."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from models.hr_export.columns import HR_EXPORT_COLUMNS
from models.hr_export.export import HrExport
from models.hr_export.plain import _parse_plain_file
from models.hr_export.text import _parse_text
from models.hr_export.xlsx import _read_xlsx


def read_hr_export(path: Path, *, column_map: Mapping[str, str] | None = None) -> HrExport:
    """Read an HR export: `;`-separated text (UTF-8 with or without BOM, or Windows-1252) or,
    when the name ends in .xlsx, the first sheet of a workbook.

    ``column_map`` maps the HR system's header names to ours (other HR systems plug in through
    settings); headers not in it must already be ours. Raises :class:`HrFileIncomplete` for a
    file that looks half-written, :class:`HrFileError` for one that can't be used, and lets
    :class:`OSError` through (missing or unreadable file: the caller decides about retrying).
    """
    path = Path(path)
    mapping = _check_column_map(column_map)
    data = path.read_bytes()
    read = _read_xlsx if path.suffix.lower() == ".xlsx" else _read_text
    return replace(read(path, data, mapping), sha256=hashlib.sha256(data).hexdigest())


def _check_column_map(column_map: Mapping[str, str] | None) -> dict[str, str]:
    if not column_map:
        return {}
    unknown = sorted(v for v in column_map.values() if v not in HR_EXPORT_COLUMNS)
    if unknown:
        raise ValueError(f"column_map maps to unknown columns: {', '.join(unknown)}")
    return {str(k).strip(): v for k, v in column_map.items()}


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made that hold no
    cycles (a parse of a million rows otherwise spends half its time in collections that walk
    the whole heap to find nothing); what is left behind is collected afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_text(path: Path, data: bytes, mapping: dict[str, str]) -> HrExport:
    with no_gc():
        return _parse_plain_file(path, data, mapping) or _parse_text(path, data, mapping)
