"""Text files read carefully: any quoting, line ends and field counts, and what is wrong
with a file that can't be used (or looks half-written)."""

from __future__ import annotations

import csv
import io
from itertools import repeat
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.hr_export.columns import HR_EXPORT_COLUMNS
from models.hr_export.encoding import _LINE_BREAK, _decode, _line_of
from models.hr_export.errors import HrFileError, _incomplete
from models.hr_export.export import HrExport, _frame
from models.hr_export.header import _Header, _known_count, _resolve_header, _split_line

_SEPARATOR: Final = ";"
_OTHER_SEPARATORS: Final = ((",", "komma (,)"), ("\t", "tabb"))
# Where str.splitlines() breaks lines but CSV parsers (and we) don't.
_OTHER_LINE_BREAKS: Final = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def _parse_text(path: Path, data: bytes, mapping: dict[str, str]) -> HrExport:
    """Any text file: its rows, or what makes it unusable (:class:`HrFileError`)."""
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
