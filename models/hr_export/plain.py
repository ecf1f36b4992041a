"""The usual file, at pandas' speed: no quotes, every line whole; numpy over its bytes looks
for what would make it unusual (anything else is read by :mod:`models.hr_export.text`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.hr_export.encoding import _BOM, _LINE_BREAK_BYTES, _ZIP_MAGIC, _decode
from models.hr_export.errors import HrFileError
from models.hr_export.export import HrExport, _frame
from models.hr_export.text import _SEPARATOR, _text_header

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
