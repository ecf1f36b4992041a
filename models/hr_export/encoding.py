"""A text file's encoding: UTF-8 (with or without BOM) or Windows-1252, told apart from a
file that is neither and from one cut inside a character."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from models.hr_export.errors import HrFileError, _incomplete

_BOM: Final = b"\xef\xbb\xbf"
_ZIP_MAGIC: Final = b"PK\x03\x04"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_UTF8_CHARACTER = re.compile("[^\x00-\x7f\ufffd]")  # any decoded non-ASCII character


def _line_of(data: bytes | str, position: int) -> int:
    pattern = _LINE_BREAK_BYTES if isinstance(data, bytes) else _LINE_BREAK
    return len(pattern.findall(data, 0, position)) + 1  # type: ignore[arg-type]


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise HrFileError(
            path, "encoding", "filen är kodad i UTF-16; spara den som UTF-8 eller Windows-1252"
        )
    if data.startswith(_ZIP_MAGIC):
        raise HrFileError(
            path,
            "not_a_table",
            "filen är en ZIP/XLSX-fil, inte en textfil; en Excel-fil ska heta .xlsx",
        )
    if data.startswith(_BOM):
        try:
            return "utf-8-sig", data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            error = exc
        if _cut_in_character(error, data):
            raise _incomplete(path, _line_of(data, error.start), None) from None
        raise HrFileError(
            path,
            "encoding",
            "filen börjar med UTF-8-BOM men innehåller tecken som inte är giltig UTF-8",
            _line_of(data, error.start),
        ) from None
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError as exc:
        error = exc
    if _cut_in_character(error, data) and not data[: error.start].isascii():
        # Clearly UTF-8 (it has multi-byte characters) and ends inside one: half-written.
        raise _incomplete(path, _line_of(data, error.start), None) from None
    if _UTF8_CHARACTER.search(data.decode("utf-8", errors="replace")) is not None:
        # Valid UTF-8 å/ä/ö elsewhere: reading it all as Windows-1252 would garble every name.
        raise HrFileError(
            path,
            "encoding",
            "filen blandar UTF-8 med tecken som inte är UTF-8 (t.ex. Windows-1252)",
            _line_of(data, error.start),
        ) from None
    try:
        return "cp1252", data.decode("cp1252")
    except UnicodeDecodeError as exc:
        error = exc
    raise HrFileError(
        path,
        "encoding",
        "filen är varken UTF-8 eller Windows-1252 (tecken som inte går att läsa)",
        _line_of(data, error.start),
    ) from None


def _cut_in_character(error: UnicodeDecodeError, data: bytes) -> bool:
    """The bytes end in the middle of a UTF-8 character (and are valid before it)."""
    return error.end == len(data) and error.reason == "unexpected end of data"
