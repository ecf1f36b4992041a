"""The HR export: read the file and validate its rows (the nightly directory sync's first steps).

Pure: no database, no Prefect, no logging. The file holds personal data, so nothing here puts a
cell value into an exception, a repr or a quarantine detail; errors name the file, the row
(file line number, header = rad 1) and the column instead. Library errors (pandas, openpyxl,
csv) are replaced by our own text and raised without a chained cause.

Reading (:func:`read_hr_export`) either returns every data row as text or raises
:class:`HrFileError` for a file that can't be used as a whole (never retried) or
:class:`HrFileIncomplete` for one that looks half-written (retrying later may help). Validation
(:func:`validate`) is vectorised over whole columns and splits the rows into valid ones and a
quarantine table with one reason code per (row, field) problem. No row is ever dropped: every
row read is either valid or quarantined, so a bad row never reads as "this person left".
"""

from __future__ import annotations

import base64
import csv
import gc
import hashlib
import io
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from enum import StrEnum
from itertools import repeat
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd
from pandas.util import hash_array

from models.personnummer import InvalidPersonnummer, validate_personnummer_series

__all__ = [
    "HR_EXPORT_COLUMNS",
    "MAX_LENGTH",
    "REASON_TEXT",
    "REQUIRED_FIELDS",
    "Distinct",
    "HrExport",
    "HrFileError",
    "HrFileIncomplete",
    "Reason",
    "Validated",
    "distinct_values",
    "no_gc",
    "read_hr_export",
    "row_digests",
    "validate",
]

#: The default format's columns, in file order.
HR_EXPORT_COLUMNS: Final[tuple[str, ...]] = (
    "anstallningsnummer",
    "personnummer",
    "fornamn",
    "efternamn",
    "epost",
    "titel",
    "anvandarid",
    "organisationsenhet",
    "kostnadsstalle",
    "besoksadress",
    "chef_anstallningsnummer",
    "anstallning_from",
    "anstallning_tom",
    "behovskategori",
    "sokord",
)
REQUIRED_FIELDS: Final = (
    "anstallningsnummer",
    "personnummer",
    "fornamn",
    "efternamn",
    "organisationsenhet",
    "kostnadsstalle",
    "anstallning_from",
)
#: Longest value per column, as the register's columns allow.
MAX_LENGTH: Final[Mapping[str, int]] = {
    "anstallningsnummer": 20,
    "fornamn": 100,
    "efternamn": 100,
    "epost": 254,
    "titel": 200,
    "anvandarid": 50,
    "besoksadress": 300,
    "sokord": 500,
}
CATEGORIES: Final = ("", "1", "2", "3")

_SEPARATOR: Final = ";"
_OTHER_SEPARATORS: Final = ((",", "komma (,)"), ("\t", "tabb"))
_BOM: Final = b"\xef\xbb\xbf"
_ZIP_MAGIC: Final = b"PK\x03\x04"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_UTF8_CHARACTER = re.compile("[^\x00-\x7f\ufffd]")  # any decoded non-ASCII character
# Where str.splitlines() breaks lines but CSV parsers (and we) don't.
_OTHER_LINE_BREAKS: Final = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"

# ----------------------------------------------------------------------------- errors


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


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class HrExport:
    """Every data row of one HR file, as text.

    ``rows`` has exactly :data:`HR_EXPORT_COLUMNS` as columns (``str`` dtype, values stripped,
    "" = empty) and the row's line number in the file as index (named ``row``; header = 1,
    first data row = 2; blank lines are skipped but keep their numbers). ``extra_columns`` are
    header names we don't know: ignored, for the report. ``sha256``: of the bytes read.
    """

    path: Path
    encoding: str
    rows: pd.DataFrame
    extra_columns: tuple[str, ...]
    sha256: str = ""

    def __repr__(self) -> str:  # counts only: the frame holds personal data
        return (
            f"HrExport(file={self.path.name!r}, encoding={self.encoding!r}, "
            f"rows={len(self.rows)}, extra_columns={len(self.extra_columns)})"
        )


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


def _frame(
    path: Path, header: _Header, body: pd.DataFrame, lines: np.ndarray, *, strip: bool = True
) -> pd.DataFrame:
    """Our columns, in our order, stripped; ``body`` has one column per file position.
    ``strip=False``: the caller knows no value has whitespace around it."""
    if len(body) == 0:
        raise HrFileError(
            path,
            "header_only",
            "filen har bara en rubrikrad och inga anställda (en tom export läses aldrig som "
            "att alla har slutat)",
            1,
        )
    n = len(body)
    index = _line_index(lines)
    columns = {}
    for name in HR_EXPORT_COLUMNS:
        raw = body.iloc[:, header.position[name]].to_numpy(dtype=object)
        if strip:
            raw = np.fromiter(map(str.strip, raw), dtype=object, count=n)
        columns[name] = pd.Series(raw, index=index, dtype="str", copy=False)
    return pd.DataFrame(columns, index=index, copy=False)  # (each copy: a pass over them all)


def _line_index(lines: np.ndarray) -> pd.Index:
    """The rows' line numbers as an index: a RangeIndex when they follow each other (as a rule),
    which finds a line by arithmetic where another index would hash a million of them first."""
    lines = np.asarray(lines, dtype=np.int64)
    if len(lines) and (np.diff(lines) == 1).all():
        return pd.RangeIndex(int(lines[0]), int(lines[-1]) + 1, name="row")
    return pd.Index(lines, dtype=np.int64, name="row")


# --- text files


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


def _incomplete(path: Path, row: int, field: str | None, detail: str = "") -> HrFileIncomplete:
    return HrFileIncomplete(
        path,
        "truncated",
        f"filen slutar mitt i en rad{detail} och skrivs troligen fortfarande; försök igen senare",
        row,
        field,
    )


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


# --- the usual file, at pandas' speed

_SCAN_BLOCK: Final = 1 << 24  # bytes per numpy pass: bounds the temporary arrays
_LF, _CR, _SEMICOLON, _SPACE = 10, 13, 59, 32
_ENDS: Final = np.array([_LF, _CR, _SEMICOLON], dtype=np.uint8)
# What str.strip() removes, as bytes: single bytes besides the space and the line ends (tab,
# VT, FF, FS, GS, RS, US), the UTF-8 of the other characters (two and three bytes, as integers),
# and the Windows-1252 bytes.
_STRIPPED: Final = [chr(c) for c in range(0x3001) if chr(c).isspace()]
_ASCII_SPACES: Final = np.array(
    [ord(c) for c in _STRIPPED if ord(c) < 0x80 and c not in " \r\n"], dtype=np.uint8
)
_UTF8_SPACES: Final = {
    size: np.array(
        [int.from_bytes(c.encode(), "big") for c in _STRIPPED if len(c.encode()) == size],
        dtype=np.uint32,
    )
    for size in (2, 3)
}
_CP1252_SPACES: Final = np.array(
    [b for b in range(0x80, 0x100) if bytes([b]).decode("cp1252", "ignore").isspace()],
    dtype=np.uint8,
)


def _parse_plain_file(path: Path, data: bytes, mapping: dict[str, str]) -> HrExport | None:
    """The usual export, read with no copy of its text: UTF-8 (BOM or not) or Windows-1252, no
    quote characters, every line ending in a line break and holding exactly the header's number
    of fields (empty lines allowed). None for any other file, and for anything that would be an
    error: :func:`_parse_text` reads those and says what is wrong. Gives what it would give.
    """
    bom = data.startswith(_BOM)
    start = len(_BOM) if bom else 0
    if (
        data.startswith((b"\xff\xfe", b"\xfe\xff", _ZIP_MAGIC))
        or not data.endswith((b"\n", b"\r"))
        or b'"' in data
        or b"\x00" in data
    ):
        return None
    first_end = _LINE_BREAK_BYTES.search(data, start)
    if first_end is None:
        return None
    try:
        first_line = data[start : first_end.start()].decode("utf-8")
        header = _text_header(path, first_line, mapping, single_line=False)
    except (UnicodeDecodeError, HrFileError):
        return None
    encoding = "utf-8-sig" if bom else "utf-8"
    body = _read_plain_body(data, header.width, "utf-8")  # the BOM is in the skipped header
    if body is None and not bom and not data.isascii():
        try:
            encoding, _ = _decode(path, data)  # Windows-1252, or an error _parse_text reports
        except HrFileError:
            return None
        if encoding == "cp1252":
            body = _read_plain_body(data, header.width, encoding)
    if body is None or not len(body) or not isinstance(body.index, pd.RangeIndex):
        return None  # (a first row longer than the header would have become the index)
    scan = _scan_plain(data, start)
    # pandas refuses rows longer than the first one; with the separators adding up, no row
    # (nor a line of blanks, which pandas reads as a row) is shorter either.
    if scan.separators != (header.width - 1) * (len(body) + 1):
        return None
    if scan.line_ends == len(body) + 1:
        lines = np.arange(2, len(body) + 2, dtype=np.int64)
    else:  # empty lines (pandas skipped them): where the rows are
        found = _plain_lines(data, start, header.width)
        if found is None or len(found) != len(body):
            return None
        lines = found
    strip = scan.edge_spaces or _other_spaces(data, cp1252=encoding == "cp1252")
    rows = _frame(path, header, body, lines, strip=strip)
    return HrExport(path=path, encoding=encoding, rows=rows, extra_columns=header.extra)


def _read_plain_body(data: bytes, width: int, encoding: str) -> pd.DataFrame | None:
    """pandas' C parser over the lines after the header; None if it fails (a value that is not
    valid in ``encoding``, a row longer than the first, ...: never pass the library's text on).
    """
    try:
        return pd.read_csv(
            io.BytesIO(data),
            sep=_SEPARATOR,
            header=None,
            skiprows=1,
            names=list(range(width)),
            dtype=object,  # plain Python str; faster here than str dtype, which _frame makes
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            quoting=csv.QUOTE_NONE,
            encoding=encoding,
            engine="c",
        )
    except Exception:
        return None


@dataclass(frozen=True)
class _Scan:
    line_ends: int  # CRLF, LF or CR, as the CSV parsers read them
    separators: int
    edge_spaces: bool  # a space first or last on a line, or next to a separator


def _scan_plain(data: bytes, start: int) -> _Scan:
    """Count line ends and separators and look for spaces at the edges of values, numpy over
    blocks of the bytes (no per-line Python objects)."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    size = len(buffer)
    line_ends = separators = 0
    edge_spaces = buffer[start] == _SPACE if start < size else False
    for lo in range(start, size, _SCAN_BLOCK):
        block = buffer[lo : lo + _SCAN_BLOCK]
        separators += int(np.count_nonzero(block == _SEMICOLON))
        line_ends += int(np.count_nonzero(block == _LF))
        cr = np.flatnonzero(block == _CR) + lo
        line_ends += int(np.count_nonzero(buffer[np.minimum(cr + 1, size - 1)] != _LF))
        line_ends += int(len(cr) and cr[-1] == size - 1)  # a CR that ends the file
        if not edge_spaces:
            spaces = np.flatnonzero(block == _SPACE) + lo
            if len(spaces):
                before = buffer[spaces - 1]
                after = buffer[np.minimum(spaces + 1, size - 1)]
                edge_spaces = bool(np.isin(before, _ENDS).any() or np.isin(after, _ENDS).any())
    return _Scan(line_ends, separators, bool(edge_spaces))


def _other_spaces(data: bytes, *, cp1252: bool) -> bool:
    """Whether the bytes hold a character that str.strip() removes other than a space or a line
    end (a tab, a non-breaking space, ...), anywhere (conservative)."""
    if any(bytes([b]) in data for b in _ASCII_SPACES.tolist()):
        return True
    if cp1252:
        return any(bytes([b]) in data for b in _CP1252_SPACES.tolist())
    leads = [b for b in (0xC2, 0xE1, 0xE2, 0xE3) if bytes([b]) in data]
    if not leads:
        return False
    buffer = np.frombuffer(data, dtype=np.uint8)
    size = len(buffer)
    for lo in range(0, size, _SCAN_BLOCK):
        block = buffer[lo : lo + _SCAN_BLOCK]
        at = np.flatnonzero(np.isin(block, leads)) + lo
        code = buffer[at].astype(np.uint32) << 8 | buffer[np.minimum(at + 1, size - 1)]
        if np.isin(code, _UTF8_SPACES[2]).any():
            return True
        code = code << 8 | buffer[np.minimum(at + 2, size - 1)]
        if np.isin(code, _UTF8_SPACES[3]).any():
            return True
    return False


def _plain_lines(data: bytes, start: int, width: int) -> np.ndarray | None:
    """Line numbers of the data rows when every line after ``start`` has ``width`` fields or
    is empty; else None."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    size = len(buffer)
    ends_parts: list[np.ndarray] = []
    before_parts: list[np.ndarray] = []
    separators = 0
    for lo in range(start, size, _SCAN_BLOCK):
        block = buffer[lo : lo + _SCAN_BLOCK]
        ends = np.flatnonzero(block == _LF)
        cr = np.flatnonzero(block == _CR)
        if len(cr):
            after = cr + lo + 1
            lone = cr[(after >= size) | (buffer[np.minimum(after, size - 1)] != _LF)]
            if len(lone):
                ends = np.union1d(ends, lone)
        semicolons = np.flatnonzero(block == _SEMICOLON)
        ends_parts.append(ends + lo)
        before_parts.append(separators + np.searchsorted(semicolons, ends))
        separators += len(semicolons)
    if not ends_parts:
        return None
    ends = np.concatenate(ends_parts)
    before = np.concatenate(before_parts)
    counts = np.diff(before, prepend=0) + 1
    starts = np.concatenate([[start], ends[:-1] + 1])
    crlf = (buffer[ends] == _LF) & (ends > starts) & (buffer[np.maximum(ends - 1, 0)] == _CR)
    empty = (ends - starts - crlf) == 0
    full = counts == width
    if not full[0] or not np.all(full | (empty & (counts == 1))):
        return None
    return np.flatnonzero(full)[1:].astype(np.int64) + 1


def _parse_text(path: Path, data: bytes, mapping: dict[str, str]) -> HrExport:
    encoding, text = _decode(path, data)
    if not text.strip():
        raise HrFileError(path, "empty", "filen är tom")
    nul = text.find("\x00")
    if nul >= 0:
        raise HrFileError(
            path,
            "encoding",
            "filen innehåller NUL-tecken (binärdata, inte text)",
            _line_of(text, nul),
        )
    ends_with_break = text.endswith(("\n", "\r"))
    first_line = _LINE_BREAK.split(text, maxsplit=1)[0]
    header = _text_header(path, first_line, mapping, single_line=_LINE_BREAK.search(text) is None)
    if '"' in text:
        counts, lines, body = _records_quoted(path, text, header, ends_with_break)
    else:
        counts, lines, body = _records_plain(path, text, header)
    _check_field_counts(path, header, counts, lines, ends_with_break)
    if not ends_with_break and len(lines):
        # A writer stopped inside the last field leaves a row with every field present:
        # only the missing line end tells. HR systems end their lines; wait for this one.
        raise _incomplete(path, int(lines[-1]), None, " (sista raden saknar radslut)")
    rows = _frame(path, header, body, lines)
    return HrExport(path=path, encoding=encoding, rows=rows, extra_columns=header.extra)


def _text_header(path: Path, line: str, mapping: dict[str, str], *, single_line: bool) -> _Header:
    names = _split_line(line, _SEPARATOR)
    if _known_count(names, mapping) == 0:
        if not line.strip():
            raise HrFileError(path, "not_a_table", "rubrikraden är tom", 1)
        for separator, label in _OTHER_SEPARATORS:
            if _known_count(_split_line(line, separator), mapping) >= 2:
                raise HrFileError(
                    path,
                    "separator",
                    f"fel avgränsare: rubrikraden är avgränsad med {label}, men formatet kräver "
                    "semikolon (;)",
                    1,
                )
        if single_line and _is_cut_header(names):
            raise _incomplete(path, 1, None, " (rubrikraden)")
        raise HrFileError(
            path,
            "not_a_table",
            "rubrikraden har inga kända kolumnnamn (saknas rubrikraden, eller är det fel fil?)",
            1,
        )
    if single_line and _is_cut_header(names):
        raise _incomplete(path, 1, None, " (rubrikraden)")
    return _resolve_header(path, names, mapping)


def _is_cut_header(names: list[str]) -> bool:
    """The default header cut short: all names but the last complete, the last a prefix."""
    k = len(names)
    if not 1 <= k <= len(HR_EXPORT_COLUMNS):
        return False
    head, last = [n.strip() for n in names[:-1]], names[-1].strip()
    expected = HR_EXPORT_COLUMNS[k - 1]
    return (
        head == list(HR_EXPORT_COLUMNS[: k - 1])
        and expected.startswith(last)
        and (k < len(HR_EXPORT_COLUMNS) or last != expected)
    )


def _records_plain(
    path: Path, text: str, header: _Header
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """No quote characters at all: one record per line; pandas' C parser reads the values."""
    if any(ch in text for ch in _OTHER_LINE_BREAKS):
        lines = _LINE_BREAK.split(text)
        if lines and lines[-1] == "":
            lines.pop()  # the text ended with a line break
    else:  # same split, much faster
        lines = text.splitlines()
    n = len(lines)
    counts = np.fromiter(map(str.count, lines, repeat(_SEPARATOR)), dtype=np.int64, count=n) + 1
    blank = np.fromiter(map(len, map(str.strip, lines)), dtype=np.int64, count=n) == 0
    numbers = np.arange(1, n + 1)
    keep = ~blank
    keep[0] = False  # the header
    if np.any(counts[keep] != header.width):
        return counts[keep], numbers[keep], pd.DataFrame()  # reported by the count check
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=_SEPARATOR,
            header=None,
            names=list(range(header.width)),
            index_col=False,
            dtype=object,  # plain Python str; faster here than str dtype, which _frame makes
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
            engine="c",
        )
    except Exception:  # never pass the library's text on: it may quote a value
        frame = None
    if frame is None or len(frame) != n:
        # pandas split the lines differently from us: let the csv module read it instead.
        return _records_quoted(path, text, header, text.endswith(("\n", "\r")))
    return counts[keep], numbers[keep], frame.iloc[keep]


def _records_quoted(
    path: Path, text: str, header: _Header, ends_with_break: bool
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Quotes in the file: Python's csv module (strict quoting), which keeps line numbers."""
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_SEPARATOR, quotechar='"', strict=True
    )
    records: list[list[str]] = []
    lines: list[int] = []
    counts: list[int] = []
    last_line = 0
    first = True
    while True:
        start = last_line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            unclosed = "unexpected end of data" in str(exc)
            if unclosed and not ends_with_break:
                raise _incomplete(path, start, None, " (ett citattecken stängs aldrig)") from None
            if unclosed:
                raise HrFileError(
                    path,
                    "unclosed_quote",
                    'ett fält börjar med citattecken (") som aldrig stängs',
                    start,
                ) from None
            raise HrFileError(
                path,
                "quoting",
                "felaktiga citattecken: efter ett citerat fält måste ; eller radslut följa",
                reader.line_num,
            ) from None
        last_line = reader.line_num
        if first:
            first = False
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line
        records.append(record)
        lines.append(start)
        counts.append(len(record))
    count_array = np.asarray(counts, dtype=np.int64)
    line_array = np.asarray(lines, dtype=np.int64)
    if np.any(count_array != header.width):
        return count_array, line_array, pd.DataFrame()
    body = pd.DataFrame(records, columns=list(range(header.width)), dtype=object)
    return count_array, line_array, body


def _check_field_counts(
    path: Path, header: _Header, counts: np.ndarray, lines: np.ndarray, ends_with_break: bool
) -> None:
    bad = np.flatnonzero(counts != header.width)
    if not len(bad):
        return
    i = int(bad[0])
    row, count = int(lines[i]), int(counts[i])
    if count > header.width:
        raise HrFileError(
            path,
            "too_many_fields",
            f"raden har fler fält än rubrikraden ({count} fält, rubrikraden har {header.width})",
            row,
        )
    field = header.column_at(count)
    if i == len(counts) - 1 and not ends_with_break:
        raise _incomplete(path, row, field, f" ({count} av {header.width} fält, inget radslut)")
    raise HrFileError(
        path,
        "too_few_fields",
        f"raden har färre fält än rubrikraden ({count} av {header.width}); "
        "den slutar före kolumnen",
        row,
        field,
    )


# --- XLSX


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


# ----------------------------------------------------------------------------- digests

#: Columns whose values repeat from row to row (all but those unique to a person): hashed once
#: per distinct value.
_REPEATING: Final = frozenset(HR_EXPORT_COLUMNS) - {
    "anstallningsnummer",
    "personnummer",
    "epost",
    "anvandarid",
}
_DIGEST_MULTIPLIER: Final = np.uint64(0x100000001B3)


class Distinct(NamedTuple):
    """A column's distinct values and, per row, the position of its value among them (what
    ``pd.factorize`` gives; every code >= 0, the columns being text with "" for missing)."""

    codes: np.ndarray
    values: np.ndarray


#: Columns whose distinct values both the digests (each hashed once) and the validation (each
#: looked up once) need: found once (:func:`distinct_values`), a pass over a million strings
#: fewer each.
SHARED_DISTINCT: Final = ("organisationsenhet", "kostnadsstalle", "chef_anstallningsnummer")


def distinct_values(
    rows: pd.DataFrame, columns: Collection[str] = SHARED_DISTINCT
) -> dict[str, Distinct]:
    """:class:`Distinct` of each of ``columns`` of ``rows``."""
    return {c: Distinct(*pd.factorize(_text_column(rows[c]))) for c in columns}


def row_digests(
    rows: pd.DataFrame, key: bytes, distinct: Mapping[str, Distinct] | None = None
) -> np.ndarray:
    """A keyed 64-bit digest of each row's values (:data:`HR_EXPORT_COLUMNS` as read), int64.

    Rows with the same values get the same digest, whatever file they came from (CSV or XLSX,
    encoding, column order, extra columns, whitespace around values); any change to a value
    changes it (but for one chance in 2**64). SipHash-2-4 of every value under a key derived
    from ``key`` (kept secret: the digest covers the personnummer, and without the key nobody
    can test a guessed number against a stored digest), combined in column order.

    ``distinct``: :func:`distinct_values` of some columns, if already found (the digests are
    the same; those columns' distinct values are hashed, not found again).
    """
    if len(key) < 16:
        raise ValueError("the digest key must be at least 16 bytes")
    # pandas takes a 16-character key: 12 bytes of key material, base64.
    hash_key = base64.b64encode(hashlib.sha256(b"telefoni/hr-row/v1" + key).digest()[:12])
    key_text = hash_key.decode("ascii")
    given = distinct or {}
    digest = np.zeros(len(rows), dtype=np.uint64)
    for column in HR_EXPORT_COLUMNS:
        found = given.get(column)
        if found is None and column in _REPEATING:
            found = distinct_values(rows, (column,))[column]
        if found is None:
            hashed = hash_array(_text_column(rows[column]), hash_key=key_text, categorize=False)
        else:  # each distinct value hashed once, then spread over its rows
            hashed = hash_array(found.values, hash_key=key_text, categorize=False)[found.codes]
        digest = digest * _DIGEST_MULTIPLIER ^ hashed
    return digest.view(np.int64)


# ----------------------------------------------------------------------------- validation


class Reason(StrEnum):
    """Why a (row, field) is quarantined; :data:`REASON_TEXT` has the Swedish explanation."""

    MISSING = "missing"
    TOO_LONG = "too_long"
    INVALID_PERSONNUMMER = "invalid_personnummer"
    INVALID_EMAIL = "invalid_email"
    INVALID_DATE = "invalid_date"
    END_BEFORE_START = "end_before_start"
    INVALID_CATEGORY = "invalid_category"
    UNKNOWN_UNIT = "unknown_unit"
    UNKNOWN_COST_CENTRE = "unknown_cost_centre"
    DUPLICATE_EMPLOYEE_NUMBER = "duplicate_employee_number"
    DUPLICATE_PERSONNUMMER = "duplicate_personnummer"
    DUPLICATE_USER_ID = "duplicate_user_id"
    UNKNOWN_MANAGER = "unknown_manager"
    CONTROL_CHARACTER = "control_character"


REASON_TEXT: Final[Mapping[Reason, str]] = {
    Reason.MISSING: "obligatoriskt fält saknar värde",
    Reason.TOO_LONG: "värdet är längre än registret tillåter",
    Reason.INVALID_PERSONNUMMER: "ogiltigt personnummer",
    Reason.INVALID_EMAIL: "ogiltig e-postadress (förväntat namn@domän.se)",
    Reason.INVALID_DATE: "ogiltigt datum (förväntat ÅÅÅÅ-MM-DD, ett datum som finns)",
    Reason.END_BEFORE_START: "anställningen slutar före den börjar",
    Reason.INVALID_CATEGORY: "behovskategori måste vara 1, 2, 3 eller tom",
    Reason.UNKNOWN_UNIT: "organisationsenheten finns inte i registret",
    Reason.UNKNOWN_COST_CENTRE: "kostnadsstället finns inte i registret",
    Reason.DUPLICATE_EMPLOYEE_NUMBER: "samma anställningsnummer finns på flera rader",
    Reason.DUPLICATE_PERSONNUMMER: "samma personnummer finns på flera rader",
    Reason.DUPLICATE_USER_ID: "samma användar-id finns på flera rader",
    Reason.UNKNOWN_MANAGER: "chefens anställningsnummer finns varken i filen eller i registret",
    Reason.CONTROL_CHARACTER: "värdet innehåller styrtecken (t.ex. radbrytning eller tabb)",
}

OPTIONAL_TEXT: Final = {
    "epost": "email",
    "titel": "title",
    "anvandarid": "user_id",
    "besoksadress": "visiting_address",
    "chef_anstallningsnummer": "manager_number",
    "sokord": "keywords",
}
QUARANTINE_COLUMNS: Final = ("row", "employee_number", "field", "reason", "detail")

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}"
)
# Codes (units, cost centres, employee numbers) are echoed in details only when they look like
# one: at most four letters then one to eight digits. A name or a personnummer never does.
_CODE_LIKE = re.compile(r"[A-Za-z]{0,4}[0-9]{1,8}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Columns checked for control characters; the others must match a strict format or a known code.
_FREE_TEXT: Final = frozenset(
    ("anstallningsnummer", "fornamn", "efternamn", "titel", "anvandarid", "besoksadress", "sokord")
)
_MAX_LISTED_ROWS: Final = 5
_DATE_FORMAT: Final = "ogiltigt datum (förväntat ÅÅÅÅ-MM-DD)"
_NO_SUCH_DATE: Final = "datumet finns inte (ÅÅÅÅ-MM-DD)"
_PERSONNUMMER_TEXT: Final = {
    r: str(InvalidPersonnummer(r)) for r in ("empty", "format", "date", "checksum", "future")
}


@dataclass(frozen=True)
class Validated:
    """Valid rows ready to apply, and the quarantine (one row per (line, field) problem).

    ``valid`` (index = line number, named ``row``): employee_number, personnummer (12 digits),
    samordning (bool), first_name, last_name (str); email, title, user_id (object, None when
    empty); unit_code, cost_centre_code (str); visiting_address, manager_number, keywords
    (object, None when empty); employment_start, employment_end (datetime64[s]; end NaT = until
    further notice); need_category (Int8, <NA> when empty).

    ``quarantine``: row (int64), employee_number (str, may be ""), field (our column name),
    reason (a :class:`Reason` value), detail (Swedish, never a personal value). Sorted by row,
    then column order.

    ``trusted``: line numbers of rows that :func:`validate` was told to trust and that passed;
    they are valid too, but only their line numbers are given (the caller has their values).
    """

    valid: pd.DataFrame
    quarantine: pd.DataFrame
    #: Line numbers of the rows given as ``trusted`` that passed (they are not in ``valid``).
    trusted: pd.Index = field(default_factory=lambda: pd.Index([], dtype=np.int64, name="row"))

    @property
    def quarantined_rows(self) -> set[int]:
        """Line numbers with at least one problem."""
        return set(self.quarantine["row"].unique().tolist())

    def __repr__(self) -> str:
        return (
            f"Validated(valid={len(self.valid)}, trusted={len(self.trusted)}, "
            f"quarantined_rows={len(self.quarantined_rows)}, problems={len(self.quarantine)})"
        )


class _Problems:
    """Collects (mask, field, reason, detail) over whole columns."""

    def __init__(self, line: np.ndarray, employee_number: np.ndarray) -> None:
        self.line = line
        self.employee_number = employee_number
        self.parts: list[pd.DataFrame] = []
        self.bad = np.zeros(len(line), dtype=bool)

    def add(
        self,
        mask: np.ndarray,
        field: str,
        reason: Reason,
        detail: str | np.ndarray | Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        where = np.flatnonzero(mask)
        if not len(where):
            return
        self.bad[where] = True
        if callable(detail):
            detail = detail(where)
        self.parts.append(
            pd.DataFrame(
                {
                    "row": self.line[where],
                    "employee_number": self.employee_number[where],
                    "field": field,
                    "reason": reason.value,
                    "detail": REASON_TEXT[reason] if detail is None else detail,
                }
            )
        )

    def table(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(
                {
                    "row": pd.Series(dtype=np.int64),
                    "employee_number": pd.Series(dtype="str"),
                    "field": pd.Series(dtype="str"),
                    "reason": pd.Series(dtype="str"),
                    "detail": pd.Series(dtype="str"),
                }
            )
        table = pd.concat(self.parts, ignore_index=True)
        order = {name: i for i, name in enumerate(HR_EXPORT_COLUMNS)}
        table["_order"] = table["field"].map(order)
        table = table.sort_values(["row", "_order"], kind="stable").drop(columns="_order")
        table = table.reset_index(drop=True)
        table["row"] = table["row"].astype(np.int64)
        for column in ("employee_number", "field", "reason", "detail"):
            table[column] = table[column].astype("str")
        return table


def _text_column(values: pd.Series) -> np.ndarray:
    """Object array of str ("" for missing); may share memory with ``values``: read only."""
    if not isinstance(values.dtype, pd.StringDtype):  # not from read_hr_export: make it text
        values = values.astype(object).where(values.notna(), "").astype("str")
    if values.dtype.na_value is np.nan:  # the "str" dtype: NaN is the only value unequal to itself
        objects = np.asarray(values.to_numpy(dtype=object), dtype=object)
        if not (objects != objects).any():  # nothing missing (always, from read_hr_export)
            return objects
    return np.asarray(values.to_numpy(dtype=object, na_value=""), dtype=object)


def _lengths(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))


def _parse_dates(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(datetime64[s] with NaT, ok, shaped) for YYYY-MM-DD strictly; "" gives NaT and ok=True;
    ``shaped`` marks values written YYYY-MM-DD (whether or not the date exists)."""
    n = len(values)
    empty = values == ""
    shaped = _lengths(values) == 10
    where = np.flatnonzero(shaped)
    if len(where):
        points = np.asarray(values[where], dtype="<U10").view(np.uint32).reshape(-1, 10)
        digits = (points >= ord("0")) & (points <= ord("9"))
        dash = points == ord("-")
        good = digits[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & dash[:, 4] & dash[:, 7]
        shaped[where] = good
    parsed = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    where = np.flatnonzero(shaped)
    if len(where):
        converted = pd.to_datetime(
            pd.Series(values[where], dtype="str"), format="%Y-%m-%d", errors="coerce"
        )
        parsed[where] = converted.to_numpy(dtype="datetime64[s]")
    ok = empty | ~np.isnat(parsed)
    return parsed, ok, shaped


def _rows_listing(
    line: np.ndarray, key: np.ndarray, noun: str
) -> Callable[[np.ndarray], np.ndarray]:
    """Detail for duplicates: which rows share the value (row numbers only, never the value)."""

    def detail(where: np.ndarray) -> np.ndarray:
        keys = key[where]
        listing = pd.Series(line[where]).groupby(keys, sort=False).agg(_listing)
        text = "samma " + noun + " på raderna " + pd.Series(keys).map(listing)
        return np.asarray(text.to_numpy(dtype=object), dtype=object)

    return detail


def _listing(rows: pd.Series) -> str:
    numbers = sorted(rows.tolist())
    text = ", ".join(map(str, numbers[:_MAX_LISTED_ROWS]))
    if len(numbers) > _MAX_LISTED_ROWS:
        text += f" m.fl. ({len(numbers)} rader)"
    return text


def _too_long(length: np.ndarray, limit: int) -> Callable[[np.ndarray], np.ndarray]:
    def detail(where: np.ndarray) -> np.ndarray:
        texts = [f"för långt värde ({n} tecken, högst {limit})" for n in length[where]]
        return np.asarray(texts, dtype=object)

    return detail


def _date_detail(shaped: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Written YYYY-MM-DD but no such day, or not written YYYY-MM-DD at all."""

    def detail(where: np.ndarray) -> np.ndarray:
        return np.where(shaped[where], _NO_SUCH_DATE, _DATE_FORMAT).astype(object)

    return detail


def _personnummer_detail(reasons: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def detail(where: np.ndarray) -> np.ndarray:
        return np.asarray([_PERSONNUMMER_TEXT[r] for r in reasons[where]], dtype=object)

    return detail


def _code_detail(
    values: np.ndarray, known: str, unknown: str
) -> Callable[[np.ndarray], np.ndarray]:
    """``known`` with {code} filled in when the value looks like a code, else ``unknown``."""

    def detail(where: np.ndarray) -> np.ndarray:
        return np.asarray(
            [known.format(code=v) if _CODE_LIKE.fullmatch(v) else unknown for v in values[where]],
            dtype=object,
        )

    return detail


def _duplicated(values: np.ndarray, consider: np.ndarray) -> np.ndarray:
    """Rows whose value (among ``consider``) is shared with another considered row."""
    out = np.zeros(len(values), dtype=bool)
    where = np.flatnonzero(consider)
    if len(where):
        out[where] = pd.Series(values[where]).duplicated(keep=False).to_numpy()
    return out


def _duplicated_keys(values: np.ndarray, consider: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """:func:`_duplicated`, counting ``keys`` (>= 0: equal keys, equal values) instead of
    hashing the values; values without a key are compared among themselves."""
    keyed = consider & (keys >= 0)
    out = np.zeros(len(values), dtype=bool)
    if keyed.any():
        counts = np.bincount(keys[keyed])
        out[keyed] = counts[keys[keyed]] > 1
    rest = np.flatnonzero(consider & ~keyed)
    out[rest] = _duplicated(values[rest], np.ones(len(rest), dtype=bool))
    return out


def _none_if_empty(values: np.ndarray, index: pd.Index) -> pd.Series:
    out = values.copy()
    out[out == ""] = None
    return pd.Series(out, index=index, dtype=object)


def validate(
    rows: pd.DataFrame,
    *,
    known_units: Collection[str],
    known_cost_centres: Collection[str],
    known_employee_numbers: Collection[str] = (),
    today: date,
    trusted: np.ndarray | None = None,
    number_keys: np.ndarray | None = None,
    distinct: Mapping[str, Distinct] | None = None,
) -> Validated:
    """Check every row of an HR export (as :attr:`HrExport.rows`) over whole columns.

    A row with several problems gets one quarantine row per problem; every row is either in
    ``valid`` or has at least one quarantine row. All rows sharing an employee number (or a
    personnummer, or a user id) are quarantined: we can't know which one is right. A manager
    must be an employee number somewhere in the file or in ``known_employee_numbers``.

    ``trusted`` (bool per row) marks rows known to pass every check of their own values: rows
    that are, value for value, rows that passed before (only ``today`` moves, and a valid
    personnummer stays valid as it does; the caller makes sure 10-digit ones are not trusted,
    whose century depends on the day). They skip those checks, still get every check that
    looks beyond the row (their personnummer, duplicates, unit, cost centre, manager), and
    when they pass they are listed in ``trusted`` instead of ``valid``.

    ``number_keys`` (int per row) can stand in for the employee numbers when looking for
    duplicates: rows with the same key >= 0 have the same number, and a number with key -1
    has no other key (say, its position in an index of known numbers, -1 for unknown ones).
    Integers are counted; a million strings would be hashed.

    ``distinct``: :func:`distinct_values` of some columns, if already found (the units, cost
    centres and managers are looked up once per distinct value; those need not be found again).
    """
    absent = [c for c in HR_EXPORT_COLUMNS if c not in rows.columns]
    if absent:
        raise ValueError(f"rows lack columns: {', '.join(absent)}")
    n = len(rows)
    found = distinct or {}
    line = np.asarray(rows.index, dtype=np.int64)
    own = np.ones(n, dtype=bool) if trusted is None else ~np.asarray(trusted, dtype=bool)
    every_row = bool(own.all())
    checked = np.flatnonzero(own)  # rows whose own values are checked
    part = rows if every_row else rows.iloc[checked]
    text = {c: _text_column(rows[c]) for c in _BEYOND_THE_ROW}
    # The checked rows' values: views of `text` where all rows are checked.
    own_text = {
        c: (text[c] if every_row else text[c][checked]) if c in text else _text_column(part[c])
        for c in HR_EXPORT_COLUMNS
    }
    empty = {c: own_text[c] == "" for c in HR_EXPORT_COLUMNS}

    def spread(values: np.ndarray, fill: Any = False) -> np.ndarray:
        """Values of the checked rows, as a value per row (``fill`` for the others)."""
        if every_row:
            return values
        out = np.full(n, fill, dtype=values.dtype)
        out[checked] = values
        return out

    number = text["anstallningsnummer"]
    problems = _Problems(line, number)

    for column in HR_EXPORT_COLUMNS:
        values = own_text[column]
        if column in REQUIRED_FIELDS:
            problems.add(spread(empty[column]), column, Reason.MISSING)
        if column in _FREE_TEXT and not "".join(values).isprintable():  # rows only if it fails
            has = np.fromiter(map(_CONTROL.search, values), dtype=bool, count=len(values))
            problems.add(spread(has), column, Reason.CONTROL_CHARACTER)
        limit = MAX_LENGTH.get(column)
        if limit is not None:
            length = spread(_lengths(values), 0)
            problems.add(length > limit, column, Reason.TOO_LONG, _too_long(length, limit))

    # Personnummer: checked for every row but trusted ones written with the century (12 digits,
    # or 13 characters with a separator): those are valid as they were, only their digits are
    # needed (to find duplicates).
    pnr_text = text["personnummer"]
    pnr_checked = own.copy()
    if not every_row:
        trusted_rows = np.flatnonzero(~own)
        pnr_checked[trusted_rows] = ~np.isin(_lengths(pnr_text[trusted_rows]), (12, 13))
    where = np.flatnonzero(pnr_checked)
    digits_part, why = validate_personnummer_series(
        pd.Series(pnr_text[where], index=rows.index[where], dtype="str"), today=today
    )
    why_values = np.full(n, None, dtype=object)
    why_values[where] = why.to_numpy(dtype=object, na_value=None)
    digits = np.full(n, None, dtype=object)
    digits[where] = digits_part.to_numpy(dtype=object, na_value=None)
    pnr_key = np.zeros(n, dtype=np.int64)
    pnr_key[where] = _digits_key(digits_part)
    rest = np.flatnonzero(~pnr_checked)
    pnr_key[rest] = _written_digits_key(pnr_text[rest])
    problems.add(
        (pnr_text != "") & pd.notna(why_values),
        "personnummer",
        Reason.INVALID_PERSONNUMMER,
        _personnummer_detail(why_values),
    )

    email = own_text["epost"]
    has_email = np.flatnonzero(~empty["epost"])
    bad_email = np.zeros(len(checked), dtype=bool)
    if len(has_email):
        matched = np.fromiter(map(_EMAIL.fullmatch, email[has_email]), dtype=bool)
        bad_email[has_email] = ~matched
    problems.add(spread(bad_email), "epost", Reason.INVALID_EMAIL)

    start, start_ok, start_shaped = _parse_dates(own_text["anstallning_from"])
    end, end_ok, end_shaped = _parse_dates(own_text["anstallning_tom"])
    for column, ok, shaped in (
        ("anstallning_from", start_ok | empty["anstallning_from"], start_shaped),
        ("anstallning_tom", end_ok, end_shaped),
    ):
        problems.add(spread(~ok), column, Reason.INVALID_DATE, _date_detail(spread(shaped)))
    problems.add(
        spread(~np.isnat(start) & ~np.isnat(end) & (end < start)),
        "anstallning_tom",
        Reason.END_BEFORE_START,
    )

    category = own_text["behovskategori"]
    category_ok = empty["behovskategori"].copy()
    single = np.flatnonzero(_lengths(category) == 1)
    if len(single):
        points = np.asarray(category[single], dtype="<U1").view(np.uint32)
        category_ok[single] = (points >= ord("1")) & (points <= ord("3"))
    problems.add(spread(~category_ok), "behovskategori", Reason.INVALID_CATEGORY)
    for column, known, reason, noun in (
        ("organisationsenhet", known_units, Reason.UNKNOWN_UNIT, "organisationsenheten"),
        ("kostnadsstalle", known_cost_centres, Reason.UNKNOWN_COST_CENTRE, "kostnadsstället"),
    ):
        values = text[column]
        unknown = _unknown(values, known, distinct=found.get(column))
        problems.add(
            unknown,
            column,
            reason,
            _code_detail(values, f"{noun} {{code}} finns inte i registret", REASON_TEXT[reason]),
        )

    for column, key, reason, noun in (
        ("anstallningsnummer", number, Reason.DUPLICATE_EMPLOYEE_NUMBER, "anställningsnummer"),
        ("personnummer", pnr_key, Reason.DUPLICATE_PERSONNUMMER, "personnummer"),
        ("anvandarid", text["anvandarid"], Reason.DUPLICATE_USER_ID, "användar-id"),
    ):
        considered = key != ("" if key.dtype == object else 0)
        if column == "anstallningsnummer" and number_keys is not None:
            shared = _duplicated_keys(key, considered, np.asarray(number_keys, dtype=np.int64))
        else:
            shared = _duplicated(key, considered)
        problems.add(shared, column, reason, _rows_listing(line, key, noun))

    manager = text["chef_anstallningsnummer"]
    problems.add(
        _unknown(
            manager, known_employee_numbers, number, distinct=found.get("chef_anstallningsnummer")
        ),
        "chef_anstallningsnummer",
        Reason.UNKNOWN_MANAGER,
        _code_detail(
            manager,
            "chefens anställningsnummer {code} finns varken i filen eller i registret",
            REASON_TEXT[Reason.UNKNOWN_MANAGER],
        ),
    )

    quarantine = problems.table()
    passed = ~problems.bad
    ok = passed[checked]  # among the checked rows
    valid_index = pd.Index(line[checked][ok], dtype=np.int64, name="row")
    good_digits = digits[checked][ok]
    t = {c: own_text[c][ok] for c in HR_EXPORT_COLUMNS}
    valid = pd.DataFrame(
        {
            "employee_number": pd.Series(t["anstallningsnummer"], index=valid_index, dtype="str"),
            "personnummer": pd.Series(good_digits, index=valid_index, dtype="str"),
            "samordning": pd.Series(_samordning(good_digits), index=valid_index, dtype=bool),
            "first_name": pd.Series(t["fornamn"], index=valid_index, dtype="str"),
            "last_name": pd.Series(t["efternamn"], index=valid_index, dtype="str"),
            "email": _none_if_empty(t["epost"], valid_index),
            "title": _none_if_empty(t["titel"], valid_index),
            "user_id": _none_if_empty(t["anvandarid"], valid_index),
            "unit_code": pd.Series(t["organisationsenhet"], index=valid_index, dtype="str"),
            "cost_centre_code": pd.Series(t["kostnadsstalle"], index=valid_index, dtype="str"),
            "visiting_address": _none_if_empty(t["besoksadress"], valid_index),
            "manager_number": _none_if_empty(t["chef_anstallningsnummer"], valid_index),
            "keywords": _none_if_empty(t["sokord"], valid_index),
            "employment_start": pd.Series(start[ok], index=valid_index),
            "employment_end": pd.Series(end[ok], index=valid_index),
            "need_category": pd.Series(_categories(category[ok]), index=valid_index),
        },
        index=valid_index,
    )
    trusted_ok = pd.Index(line[~own & passed], dtype=np.int64, name="row")
    return Validated(valid=valid, quarantine=quarantine, trusted=trusted_ok)


# Columns checked across rows or against the register, for trusted rows too.
_BEYOND_THE_ROW: Final = (
    "anstallningsnummer",
    "personnummer",
    "anvandarid",
    "organisationsenhet",
    "kostnadsstalle",
    "chef_anstallningsnummer",
)


def _categories(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Checked categories ("", "1", "2", "3") as Int8, <NA> for ""."""
    empty = values == ""
    numbers = np.zeros(len(values), dtype=np.int8)
    if (~empty).any():
        points = np.asarray(values[~empty], dtype="<U1").view(np.uint32)
        numbers[~empty] = points - ord("0")
    return pd.arrays.IntegerArray(numbers, empty)


def _unknown(
    values: np.ndarray, *known: Collection[str] | np.ndarray, distinct: Distinct | None = None
) -> np.ndarray:
    """Rows whose value is not empty and in none of ``known``, looked up once per distinct
    value (``distinct``: the values', if found already): in a unique pd.Index through the
    index's own hash table, in an array (a column of the file) by one pass over it for the
    values still missing (none, as a rule), never a set of a million values."""
    codes, uniques = distinct if distinct is not None else pd.factorize(values)
    missing = uniques != ""
    for k in known:
        at = np.flatnonzero(missing)
        if not len(at):
            break
        candidates = uniques[at]
        if isinstance(k, pd.Index) and k.is_unique:
            missing[at] = k.get_indexer(candidates) < 0
        elif isinstance(k, np.ndarray):
            there = pd.Series(k).isin(candidates).to_numpy()
            missing[at] = ~pd.Series(candidates).isin(k[there]).to_numpy()
        else:
            known_set = k if isinstance(k, set | frozenset) else set(k)
            missing[at] = [v not in known_set for v in candidates]
    if not missing.any():
        return np.zeros(len(values), dtype=bool)
    return np.asarray(missing[codes], dtype=bool)


def _written_digits_key(texts: np.ndarray) -> np.ndarray:
    """Personnummer known to be valid and written with the century (12 digits, or 13
    characters with the separator before the last four) as their 12 digits in an int64:
    hashing ints beats hashing strings. Each length's texts end to end, as code points: no
    array of a million fixed-width strings."""
    key = np.zeros(len(texts), dtype=np.int64)
    lengths = _lengths(texts)
    for width in (12, 13):
        at = np.flatnonzero(lengths == width)
        if len(at):
            joined = "".join(texts[at].tolist()).encode("utf-32-le")
            points = np.frombuffer(joined, dtype=np.uint32).reshape(len(at), width)
            # Code points times places, in uint32 ("9" is 57: 57 × 11,111,111 fits), less the
            # zeros' share: YYYYMMDD, then the last four.
            date = (points[:, :8] @ _PLACES[:8]).astype(np.int64) - _ZEROS[0]
            last = (points[:, -4:] @ _PLACES[8:]).astype(np.int64) - _ZEROS[1]
            key[at] = date * 10_000 + last
    return key


_PLACES: Final = 10 ** np.array([7, 6, 5, 4, 3, 2, 1, 0, 3, 2, 1, 0], dtype=np.uint32)
_ZEROS: Final = (48 * int(_PLACES[:8].sum()), 48 * int(_PLACES[8:].sum()))


def _digits_key(digits: pd.Series) -> np.ndarray:
    """:func:`_written_digits_key` of validated digits (0 where there is no valid number)."""
    valid = digits.notna().to_numpy()
    key = np.zeros(len(digits), dtype=np.int64)
    key[valid] = _written_digits_key(digits[valid].to_numpy(dtype=object))
    return key


def _samordning(digits: np.ndarray) -> np.ndarray:
    """Day of month + 60 in 12 valid digits YYYYMMDDNNNC."""
    if not len(digits):
        return np.zeros(0, dtype=bool)
    points = np.asarray(digits, dtype="<U12").view(np.uint32).reshape(-1, 12).astype(np.int64)
    day = (points[:, 6] - 48) * 10 + points[:, 7] - 48
    return day > 60
