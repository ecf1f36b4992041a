"""Reading and validating the HR export, driven by the bad-input corpus in tests/data/hr/.

CORPUS below is the one place that says what each corpus file must give; tests/data/hr/README.md
shows the same table (a test keeps the two equal). Fictional data only.
"""

from __future__ import annotations

import importlib.util
import math
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import models.hr_export.plain as hr_plain
import models.hr_export.text as hr_text
from models.hr_export import (
    HR_EXPORT_COLUMNS,
    REASON_TEXT,
    REQUIRED_FIELDS,
    SHARED_DISTINCT,
    HrExport,
    HrFileError,
    HrFileIncomplete,
    Reason,
    Validated,
    distinct_values,
    read_hr_export,
    row_digests,
    validate,
)
from models.personnummer import (
    InvalidPersonnummer,
    Personnummer,
    make_personnummer,
    parse_personnummer,
    validate_personnummer_series,
)
from telefoni import demo

CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "hr"
TODAY = date(2026, 6, 1)
UNITS = frozenset({"U1000", "U1001"})
COST_CENTRES = frozenset({"KS1000", "KS1001"})
COLUMN_MAP = {
    "Anst.nr": "anstallningsnummer",
    "Personnr": "personnummer",
    "Förnamn": "fornamn",
    "Efternamn": "efternamn",
}


def _load_corpus_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS_DIR / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_corpus = _load_corpus_module()


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Valid:
    rows: int
    extra: tuple[str, ...] = ()
    brake: bool = False  # the lead's brake decides about this one

    def text(self) -> str:
        out = f"valid: {self.rows} row{'' if self.rows == 1 else 's'}"
        if self.extra:
            out += f", extra column {', '.join(self.extra)} ignored"
        if self.brake:
            out += " → brake (lead's part)"
        return out


@dataclass(frozen=True)
class Error:
    reason: str
    row: int | None = None
    field: str | None = None

    def text(self) -> str:
        return f"HrFileError `{self.reason}`" + _where(self.row, self.field)


@dataclass(frozen=True)
class Incomplete:
    row: int
    field: str | None = None

    def text(self) -> str:
        return "HrFileIncomplete `truncated` (retry later)" + _where(self.row, self.field)


@dataclass(frozen=True)
class Quarantine:
    valid: int
    problems: tuple[tuple[int, str, Reason], ...]

    def text(self) -> str:
        listed = "; ".join(f"rad {r} {f} `{reason}`" for r, f, reason in self.problems)
        return f"quarantine: {listed} — {self.valid} valid"


def _where(row: int | None, field: str | None) -> str:
    return (f", rad {row}" if row is not None else "") + (
        f", kolumn {field}" if field is not None else ""
    )


Outcome = Valid | Error | Incomplete | Quarantine
R = Reason

# file -> (what is wrong with it, what reading + validating it must give)
CORPUS: dict[str, tuple[str, Outcome]] = {
    "valid_utf8.csv": ("nothing: UTF-8 without BOM, LF", Valid(10)),
    "valid_utf8_bom.csv": ("nothing: UTF-8 with BOM", Valid(10)),
    "valid_cp1252.csv": ("nothing: Windows-1252 (å/ä/ö as single bytes)", Valid(10)),
    "valid.xlsx": ("nothing: XLSX, dates as date cells, category as numbers", Valid(10)),
    "crlf.csv": ("CRLF line ends", Valid(10)),
    "mixed_line_endings.csv": ("CRLF, LF and a lone CR mixed", Valid(10)),
    "no_final_newline.csv": (
        "last line has no line end: the file may still be being written",
        Incomplete(11),
    ),
    "blank_lines.csv": ("blank and whitespace-only lines (skipped, line numbers kept)", Valid(10)),
    "whitespace_around_values.csv": ("spaces/tabs around headers and values", Valid(10)),
    "quoted_semicolon.csv": ('quoted `;` in an address, `""` in a title', Valid(10)),
    "formula_like_values.csv": ("`=SUM(A1)`, `+46…`, `-…`, `@…` values stay text", Valid(10)),
    "formula_like_values.xlsx": ("`=SUM(A1)` as a text cell stays text", Valid(10)),
    "extra_column.csv": ("an unknown column `lonekod`", Valid(10, extra=("lonekod",))),
    "mapped_headers.csv": (
        "another HR system's headers, read with its column_map",
        Valid(10),
    ),
    "comma_separated.csv": ("`,` instead of `;`", Error("separator", 1)),
    "tab_separated.csv": ("tab instead of `;`", Error("separator", 1)),
    "missing_column.csv": (
        "column personnummer missing",
        Error("missing_column", 1, "personnummer"),
    ),
    "missing_optional_column.csv": (
        "optional column sokord missing (the format is fixed)",
        Error("missing_column", 1, "sokord"),
    ),
    "duplicate_column.csv": (
        "fornamn twice in the header",
        Error("duplicate_column", 1, "fornamn"),
    ),
    "no_header.csv": ("no header row: data from line 1", Error("not_a_table", 1)),
    "not_a_table.csv": ("a letter, not an export", Error("not_a_table", 1)),
    "not_really.xlsx": ("CSV text named .xlsx", Error("not_a_table")),
    "empty.csv": ("0 bytes", Error("empty")),
    "bom_only.csv": ("only a UTF-8 BOM", Error("empty")),
    "whitespace_only.csv": ("only line ends and spaces", Error("empty")),
    "header_only.csv": ("header, no employees", Error("header_only", 1)),
    "header_only_blank_lines.csv": ("header and blank lines", Error("header_only", 1)),
    "too_many_fields.csv": ("row 3 has 16 fields", Error("too_many_fields", 3)),
    "too_few_fields.csv": (
        "row 3 has 12 fields and a line end",
        Error("too_few_fields", 3, "anstallning_tom"),
    ),
    "unclosed_quote.csv": ('a `"` in row 4 is never closed', Error("unclosed_quote", 4)),
    "bad_quoting.csv": ('`"Vakt"mästare` in row 4', Error("quoting", 4)),
    "invalid_encoding.csv": (
        "bytes that are neither UTF-8 nor Windows-1252 in row 10",
        Error("encoding", 10),
    ),
    "utf16.csv": ("UTF-16", Error("encoding")),
    "mixed_encoding.csv": (
        "UTF-8, but row 10 has Windows-1252 `ö` (would garble every name)",
        Error("encoding", 10),
    ),
    "cut_mid_row.csv": (
        "file cut in the middle of row 11 (no line end)",
        Incomplete(11, "chef_anstallningsnummer"),
    ),
    "cut_mid_character.csv": ("UTF-8 cut inside an `ö` in row 11", Incomplete(11)),
    "cut_in_header.csv": ("file cut inside the header", Incomplete(1)),
    "truncated.xlsx": ("first half of an XLSX file", Incomplete(1)),
    "duplicate_employee_number.csv": (
        "rows 3 and 4 share an employee number",
        Quarantine(
            8,
            (
                (3, "anstallningsnummer", R.DUPLICATE_EMPLOYEE_NUMBER),
                (4, "anstallningsnummer", R.DUPLICATE_EMPLOYEE_NUMBER),
            ),
        ),
    ),
    "duplicate_personnummer.csv": (
        "rows 2 and 7 share a personnummer (12 and 10 digits)",
        Quarantine(
            8,
            (
                (2, "personnummer", R.DUPLICATE_PERSONNUMMER),
                (7, "personnummer", R.DUPLICATE_PERSONNUMMER),
            ),
        ),
    ),
    "duplicate_user_id.csv": (
        "rows 3 and 9 share a user id",
        Quarantine(
            8, ((3, "anvandarid", R.DUPLICATE_USER_ID), (9, "anvandarid", R.DUPLICATE_USER_ID))
        ),
    ),
    "invalid_personnummer.csv": (
        "checksum (3), impossible date (4), letters (5), born in the future (6)",
        Quarantine(
            6,
            (
                (3, "personnummer", R.INVALID_PERSONNUMMER),
                (4, "personnummer", R.INVALID_PERSONNUMMER),
                (5, "personnummer", R.INVALID_PERSONNUMMER),
                (6, "personnummer", R.INVALID_PERSONNUMMER),
            ),
        ),
    ),
    "invalid_date.csv": (
        "2019-13-15 (3), 31/12/2026 (4), 2024-5-2 (5)",
        Quarantine(
            7,
            (
                (3, "anstallning_from", R.INVALID_DATE),
                (4, "anstallning_tom", R.INVALID_DATE),
                (5, "anstallning_from", R.INVALID_DATE),
            ),
        ),
    ),
    "end_before_start.csv": (
        "row 4 ends before it starts",
        Quarantine(9, ((4, "anstallning_tom", R.END_BEFORE_START),)),
    ),
    "unknown_unit.csv": (
        "row 3 unit U9999",
        Quarantine(9, ((3, "organisationsenhet", R.UNKNOWN_UNIT),)),
    ),
    "unknown_cost_centre.csv": (
        "row 3 cost centre KS9999",
        Quarantine(9, ((3, "kostnadsstalle", R.UNKNOWN_COST_CENTRE),)),
    ),
    "unknown_manager.csv": (
        "row 4 manager A999999 in neither file nor register",
        Quarantine(9, ((4, "chef_anstallningsnummer", R.UNKNOWN_MANAGER),)),
    ),
    "invalid_email.csv": (
        "`@@` (3), a space (4), no top-level domain (5)",
        Quarantine(
            7,
            (
                (3, "epost", R.INVALID_EMAIL),
                (4, "epost", R.INVALID_EMAIL),
                (5, "epost", R.INVALID_EMAIL),
            ),
        ),
    ),
    "invalid_category.csv": (
        "behovskategori 4 (3) and A (4)",
        Quarantine(
            8,
            ((3, "behovskategori", R.INVALID_CATEGORY), (4, "behovskategori", R.INVALID_CATEGORY)),
        ),
    ),
    "missing_required_field.csv": (
        "no first name (3), no start (4), no unit or cost centre (5)",
        Quarantine(
            7,
            (
                (3, "fornamn", R.MISSING),
                (4, "anstallning_from", R.MISSING),
                (5, "organisationsenhet", R.MISSING),
                (5, "kostnadsstalle", R.MISSING),
            ),
        ),
    ),
    "too_long.csv": ("a 239-character title (3)", Quarantine(9, ((3, "titel", R.TOO_LONG),))),
    "control_character.csv": (
        "a quoted line break in an address (row 3 spans lines 3–4)",
        Quarantine(9, ((3, "besoksadress", R.CONTROL_CHARACTER),)),
    ),
    "several_problems.csv": (
        "row 3: personnummer, e-mail, unit and category all wrong",
        Quarantine(
            9,
            (
                (3, "personnummer", R.INVALID_PERSONNUMMER),
                (3, "epost", R.INVALID_EMAIL),
                (3, "organisationsenhet", R.UNKNOWN_UNIT),
                (3, "behovskategori", R.INVALID_CATEGORY),
            ),
        ),
    ),
    "invalid_rows.xlsx": (
        "XLSX: row 3 unit U9999, rows 3 and 4 share an employee number",
        Quarantine(
            8,
            (
                (3, "anstallningsnummer", R.DUPLICATE_EMPLOYEE_NUMBER),
                (3, "organisationsenhet", R.UNKNOWN_UNIT),
                (4, "anstallningsnummer", R.DUPLICATE_EMPLOYEE_NUMBER),
            ),
        ),
    ),
    "everyone_removed.csv": (
        "one employee left: would remove the other nine",
        Valid(1, brake=True),
    ),
    "short.csv": ("7 of the 10 employees: 30 % shorter", Valid(7, brake=True)),
}
OPTIONS: dict[str, dict[str, Any]] = {"mapped_headers.csv": {"column_map": COLUMN_MAP}}
# Named in the brief; each must be in the corpus.
REQUIRED_FILES = {
    "valid_utf8.csv",
    "valid_utf8_bom.csv",
    "valid_cp1252.csv",
    "valid.xlsx",
    "crlf.csv",
    "mixed_line_endings.csv",
    "comma_separated.csv",
    "tab_separated.csv",
    "missing_column.csv",
    "extra_column.csv",
    "duplicate_employee_number.csv",
    "duplicate_personnummer.csv",
    "invalid_personnummer.csv",
    "invalid_date.csv",
    "end_before_start.csv",
    "unknown_unit.csv",
    "unknown_cost_centre.csv",
    "unknown_manager.csv",
    "invalid_email.csv",
    "invalid_category.csv",
    "missing_required_field.csv",
    "empty.csv",
    "bom_only.csv",
    "header_only.csv",
    "cut_mid_row.csv",
    "too_many_fields.csv",
    "quoted_semicolon.csv",
    "formula_like_values.csv",
    "everyone_removed.csv",
    "short.csv",
}


def read(name: str) -> HrExport:
    return read_hr_export(CORPUS_DIR / name, **OPTIONS.get(name, {}))


def check(rows: pd.DataFrame, **kwargs: Any) -> Validated:
    args: dict[str, Any] = {
        "known_units": UNITS,
        "known_cost_centres": COST_CENTRES,
        "today": TODAY,
    }
    args.update(kwargs)
    return validate(rows, **args)


def sensitive_values() -> list[str]:
    """Every personal value in the corpus, in the forms it could leak in."""
    out: list[str] = []
    for row in make_corpus.people():
        pnr = row["personnummer"]
        digits = pnr.replace("-", "")
        out += [pnr, digits, digits[2:], pnr[2:], row["fornamn"], row["efternamn"], row["epost"]]
    return out


SENSITIVE = sensitive_values()


def assert_no_values(text: str) -> None:
    for value in SENSITIVE:
        assert value not in text, "a personal value leaked"


# --------------------------------------------------------------------------- the corpus


def test_corpus_folder_matches_the_table() -> None:
    on_disk = {p.name for p in CORPUS_DIR.iterdir() if p.suffix in {".csv", ".xlsx"}}
    assert on_disk == set(CORPUS)
    assert on_disk >= REQUIRED_FILES
    assert len(on_disk) >= 22


def readme_rows() -> list[str]:
    return [f"| `{name}` | {what} | {outcome.text()} |" for name, (what, outcome) in CORPUS.items()]


def test_readme_mirrors_the_table() -> None:
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    assert table == readme_rows(), "\n".join(["README.md table should be:", *readme_rows()])


def test_corpus_regenerates_byte_for_byte(tmp_path: Path) -> None:
    names = make_corpus.write_corpus(tmp_path, xlsx=False)
    for name in names:
        assert (tmp_path / name).read_bytes() == (CORPUS_DIR / name).read_bytes(), name


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_file_gives_its_documented_outcome(name: str) -> None:
    _, outcome = CORPUS[name]
    if isinstance(outcome, Error | Incomplete):
        expected = HrFileIncomplete if isinstance(outcome, Incomplete) else HrFileError
        with pytest.raises(HrFileError) as caught:
            read(name)
        error = caught.value
        assert type(error) is expected
        reason = "truncated" if isinstance(outcome, Incomplete) else outcome.reason
        assert (error.reason, error.row, error.field) == (reason, outcome.row, outcome.field)
        assert error.path == CORPUS_DIR / name
        text = str(error)
        assert text.startswith(name)
        if outcome.row is not None:
            assert f"rad {outcome.row}" in text
        if outcome.field is not None:
            assert f"kolumn {outcome.field}" in text
        assert_no_values("\n".join([text, repr(error), repr(error.args)]))
        assert error.__cause__ is None  # no library exception (with its text) chained
        assert error.__context__ is None or error.__suppress_context__
        return
    export = read(name)
    result = check(export.rows)
    assert len(result.valid) + len(result.quarantined_rows) == len(export.rows)
    assert set(result.valid.index).isdisjoint(result.quarantined_rows)
    assert set(result.valid.index) | result.quarantined_rows == set(export.rows.index)
    if isinstance(outcome, Valid):
        assert len(export.rows) == outcome.rows
        assert export.extra_columns == outcome.extra
        assert result.quarantine.empty, result.quarantine.to_string()
        assert len(result.valid) == outcome.rows
    else:
        problems = [
            (int(r), str(f), Reason(q))
            for r, f, q in result.quarantine[["row", "field", "reason"]].itertuples(index=False)
        ]
        assert problems == list(outcome.problems)
        assert len(result.valid) == outcome.valid
        assert_no_values("\n".join(result.quarantine["detail"]))


def test_same_content_in_every_encoding_and_layout_reads_the_same() -> None:
    reference = read("valid_utf8.csv")
    assert reference.encoding == "utf-8"
    assert read("valid_utf8_bom.csv").encoding == "utf-8-sig"
    cp1252 = read("valid_cp1252.csv")
    assert cp1252.encoding == "cp1252"
    assert "Åsa" in set(cp1252.rows["fornamn"])
    for name in (
        "valid_utf8_bom.csv",
        "valid_cp1252.csv",
        "valid.xlsx",
        "crlf.csv",
        "mixed_line_endings.csv",
        "whitespace_around_values.csv",
        "extra_column.csv",
        "mapped_headers.csv",
    ):
        pd.testing.assert_frame_equal(read(name).rows, reference.rows, obj=name)


def test_rows_frame_shape() -> None:
    export = read("valid_utf8.csv")
    rows = export.rows
    assert tuple(rows.columns) == HR_EXPORT_COLUMNS
    assert all(str(t) == "str" for t in rows.dtypes)
    assert rows.index.name == "row"
    assert list(rows.index) == list(range(2, 12))
    assert rows.loc[5, "behovskategori"] == ""  # empty stays "", never NaN
    assert not rows.isna().any().any()


def test_line_numbers_survive_blank_lines_and_multi_line_fields() -> None:
    assert list(read("blank_lines.csv").rows.index) == [2, 3, 4, *range(7, 14)]
    rows = read("control_character.csv").rows
    assert list(rows.index) == [2, 3, *range(5, 13)]
    assert rows.loc[3, "besoksadress"] == "Stadshustorget 1\nplan 2, 694 80 Sjöbacka"
    assert rows.loc[5, "anstallningsnummer"] == "A000103"


def test_quoted_values_and_formula_like_values_stay_text() -> None:
    rows = read("quoted_semicolon.csv").rows
    assert rows.loc[3, "besoksadress"] == "Stadshustorget 1; plan 2, 694 80 Sjöbacka"
    assert rows.loc[4, "titel"] == 'Vaktmästare "Fastighet"'
    rows = read("formula_like_values.csv").rows
    assert rows.loc[3, "titel"] == "=SUM(A1)"
    assert rows.loc[4, "sokord"] == "+46 bygglov"
    assert rows.loc[5, "titel"] == "-Lärare"
    assert rows.loc[6, "sokord"] == "@rektor"
    assert read("formula_like_values.xlsx").rows.loc[3, "titel"] == "=SUM(A1)"
    valid = check(rows).valid
    assert valid.loc[3, "title"] == "=SUM(A1)"


def test_error_for_mapped_headers_without_the_map_names_the_first_missing_column() -> None:
    with pytest.raises(HrFileError) as caught:
        read_hr_export(CORPUS_DIR / "mapped_headers.csv")
    assert (caught.value.reason, caught.value.field) == ("missing_column", "anstallningsnummer")


def test_column_map_must_map_to_our_columns() -> None:
    with pytest.raises(ValueError, match="unknown columns: namn"):
        read_hr_export(CORPUS_DIR / "valid_utf8.csv", column_map={"Namn": "namn"})


def test_missing_file_is_an_os_error_not_an_hr_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_hr_export(tmp_path / "saknas.csv")


def test_errors_pickle_and_keep_their_fields() -> None:
    with pytest.raises(HrFileIncomplete) as caught:
        read("cut_mid_row.csv")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is HrFileIncomplete
    assert (copy.path, copy.row, copy.field, copy.reason, str(copy)) == (
        caught.value.path,
        11,
        "chef_anstallningsnummer",
        "truncated",
        str(caught.value),
    )
    assert isinstance(copy, HrFileError) and isinstance(copy, ValueError)


def test_reprs_hold_counts_only() -> None:
    export = read("valid_utf8.csv")
    result = check(export.rows)
    text = repr(export) + repr(result) + str(export) + str(result)
    assert "rows=10" in repr(export)
    assert_no_values(text)


def test_truncated_file_becomes_readable_once_complete(tmp_path: Path) -> None:
    full = (CORPUS_DIR / "valid_utf8.csv").read_bytes()
    path = tmp_path / "hr.csv"
    path.write_bytes(full[: len(full) - 40])
    with pytest.raises(HrFileIncomplete):
        read_hr_export(path)
    path.write_bytes(full)
    assert len(read_hr_export(path).rows) == 10


def test_cp1252_file_ending_in_a_non_ascii_byte_is_not_mistaken_for_cut_utf8(
    tmp_path: Path,
) -> None:
    text = (CORPUS_DIR / "valid_utf8.csv").read_text(encoding="utf-8").rstrip("\n") + "ö"
    ascii_only = "\n".join(re.sub(r"[^\x00-\x7f]", "o", line) for line in text.splitlines()[:-1])
    path = tmp_path / "hr.csv"
    path.write_bytes((ascii_only + "\n" + text.splitlines()[-1] + "\r\n").encode("cp1252"))
    export = read_hr_export(path)
    assert export.encoding == "cp1252"
    assert export.rows["sokord"].iloc[-1].endswith("ö")


# The usual file (UTF-8 or Windows-1252, no quotes, whole lines) takes a fast reader that must
# give exactly what the careful one gives, and leave every other file, and every error, to it.
EDITS = [
    "",
    " ",
    "  ",
    "\t",
    ";",
    "\r",
    "\n",
    "\r\n",
    "\u00a0",
    "\u2003",
    "\x85",
    "é",
    "–",
    '"',
    "\x0b",
]


@settings(max_examples=400, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(EDITS)), max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    cut=st.integers(0, 3),
)
def test_fast_reader_gives_what_the_careful_reader_gives(
    edits: list[tuple[int, str]], encoding: str, cut: int
) -> None:
    text = (CORPUS_DIR / "valid_utf8.csv").read_text(encoding="utf-8")
    for at, edit in edits:
        at = at % (len(text) + 1)
        text = text[:at] + edit + text[at:]
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    data = data[: len(data) - cut] if cut < 3 else data
    path = Path("hr.csv")
    try:
        careful: HrExport | HrFileError = hr_text._parse_text(path, data, {})
    except HrFileError as exc:
        careful = exc
    fast = hr_plain._parse_plain_file(path, data, {})
    if fast is None:
        return
    assert isinstance(careful, HrExport), (careful, data)
    pd.testing.assert_frame_equal(fast.rows, careful.rows)
    assert (fast.encoding, fast.extra_columns) == (careful.encoding, careful.extra_columns)


def test_the_fast_reader_takes_the_usual_files() -> None:
    taken = {
        name
        for name in ("valid_utf8.csv", "valid_utf8_bom.csv", "valid_cp1252.csv", "crlf.csv")
        if hr_plain._parse_plain_file(CORPUS_DIR / name, (CORPUS_DIR / name).read_bytes(), {})
    }
    assert taken == {"valid_utf8.csv", "valid_utf8_bom.csv", "valid_cp1252.csv", "crlf.csv"}


def test_the_fast_reader_knows_every_character_strip_removes() -> None:
    every = {c for c in map(chr, range(0x110000)) if c.isspace()}
    assert every == set(hr_plain._STRIPPED)


# --------------------------------------------------------------------------- row digests

KEY = bytes(range(32))


def test_a_rows_digest_depends_on_its_values_not_on_the_file() -> None:
    reference = row_digests(read("valid_utf8.csv").rows, KEY)
    assert len(set(reference.tolist())) == 10
    for name in (
        "valid_utf8_bom.csv",
        "valid_cp1252.csv",
        "valid.xlsx",
        "crlf.csv",
        "whitespace_around_values.csv",
        "extra_column.csv",
        "blank_lines.csv",
    ):
        assert row_digests(read(name).rows, KEY).tolist() == reference.tolist(), name


@pytest.mark.parametrize("column", HR_EXPORT_COLUMNS)
def test_any_changed_value_changes_the_digest(column: str) -> None:
    rows = read("valid_utf8.csv").rows
    changed = rows.copy()
    changed.loc[4, column] = changed.loc[4, column] + "x"
    before, after = row_digests(rows, KEY), row_digests(changed, KEY)
    assert (before != after).tolist() == [i == 2 for i in range(10)]


def test_values_moved_between_columns_change_the_digest() -> None:
    rows = read("valid_utf8.csv").rows
    swapped = rows.assign(fornamn=rows["efternamn"], efternamn=rows["fornamn"])
    assert not (row_digests(rows, KEY) == row_digests(swapped, KEY)).any()


@pytest.mark.parametrize("columns", [SHARED_DISTINCT, HR_EXPORT_COLUMNS], ids=["shared", "all"])
def test_distinct_values_found_once_give_the_same_digests(columns: tuple[str, ...]) -> None:
    rows = read("unknown_unit.csv").rows  # repeated units and managers, one unknown of each
    found = distinct_values(rows, columns)
    assert len(found["organisationsenhet"].values) < len(rows)
    assert row_digests(rows, KEY, found).tolist() == row_digests(rows, KEY).tolist()


def test_digests_stay_what_the_register_stored() -> None:
    # The register keeps each person's digest: a change in how it is computed would make every
    # row of the next night look changed. These are the first three rows' digests as stored.
    rows = read("valid_utf8.csv").rows
    stored = [-4556601411211433986, 1498634403406306092, -6611855427795749770]
    assert row_digests(rows, KEY)[:3].tolist() == stored


def test_the_digest_needs_the_key() -> None:
    rows = read("valid_utf8.csv").rows
    other = row_digests(rows, bytes(range(1, 33)))
    assert not (row_digests(rows, KEY) == other).any()
    with pytest.raises(ValueError, match="16 bytes"):
        row_digests(rows, b"short")


# --------------------------------------------------------------------------- validate()


def frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    index = pd.Index(range(2, len(rows) + 2), name="row")
    return pd.DataFrame(
        {c: pd.Series([r[c] for r in rows], index=index, dtype="str") for c in HR_EXPORT_COLUMNS}
    )


def test_valid_frame_columns_and_types() -> None:
    valid = check(read("valid_utf8.csv").rows).valid
    assert list(valid.columns) == [
        "employee_number",
        "personnummer",
        "samordning",
        "first_name",
        "last_name",
        "email",
        "title",
        "user_id",
        "unit_code",
        "cost_centre_code",
        "visiting_address",
        "manager_number",
        "keywords",
        "employment_start",
        "employment_end",
        "need_category",
    ]
    assert valid.index.name == "row"
    assert str(valid["employment_start"].dtype) == "datetime64[s]"
    assert str(valid["employment_end"].dtype) == "datetime64[s]"
    assert str(valid["need_category"].dtype) == "Int8"
    assert valid["samordning"].dtype == bool
    first, kare, jorgen = valid.loc[2], valid.loc[5], valid.loc[4]
    assert first["personnummer"] == "196803129805"
    assert Personnummer(first["personnummer"]) == parse_personnummer("19680312-9805", today=TODAY)
    assert first["manager_number"] is None
    assert first["employment_start"] == pd.Timestamp("2012-03-01")
    assert pd.isna(first["employment_end"])
    assert jorgen["employment_end"] == pd.Timestamp("2026-12-31")
    assert kare["samordning"] and not first["samordning"]
    assert pd.isna(kare["need_category"]) and first["need_category"] == 1
    assert kare["manager_number"] == "A000105"
    assert first["email"] == "asa.oberg@sjobacka.example"


def test_optional_fields_become_none() -> None:
    rows = make_corpus.people()[:2]
    for c in ("epost", "titel", "anvandarid", "besoksadress", "sokord", "anstallning_tom"):
        rows[1][c] = ""
    valid = check(frame(rows)).valid
    second = valid.loc[3]
    for c in ("email", "title", "user_id", "visiting_address", "keywords"):
        assert second[c] is None
    assert pd.isna(second["employment_end"])


def test_quarantine_table_shape() -> None:
    result = check(read("several_problems.csv").rows)
    q = result.quarantine
    assert list(q.columns) == ["row", "employee_number", "field", "reason", "detail"]
    assert q["row"].dtype == np.int64
    assert set(q["employee_number"]) == {"A000102"}
    assert result.quarantined_rows == {3}
    empty = check(read("valid_utf8.csv").rows).quarantine
    assert list(empty.columns) == list(q.columns) and empty.empty
    assert result.quarantined_rows == {3}


def test_every_reason_has_a_swedish_text() -> None:
    assert set(REASON_TEXT) == set(Reason)


def test_all_required_fields_missing_gives_one_problem_each() -> None:
    row = dict.fromkeys(HR_EXPORT_COLUMNS, "")
    result = check(frame([row]))
    assert list(result.quarantine["field"]) == list(REQUIRED_FIELDS)
    assert set(result.quarantine["reason"]) == {"missing"}
    assert result.valid.empty


def test_every_row_sharing_a_number_is_quarantined() -> None:
    rows = make_corpus.people()
    for i in (1, 5, 7):  # nobody reports to these three
        rows[i]["anstallningsnummer"] = "A000999"
    result = check(frame(rows))
    assert result.quarantined_rows == {3, 7, 9}
    details = set(result.quarantine["detail"])
    assert details == {"samma anställningsnummer på raderna 3, 7, 9"}


@pytest.mark.parametrize("register", [set, pd.Index], ids=["set", "index"])
def test_manager_may_be_in_the_register_or_in_a_quarantined_row(register: Any) -> None:
    rows = make_corpus.people()
    rows[1]["chef_anstallningsnummer"] = "A777777"
    assert check(frame(rows)).quarantined_rows == {3}
    known = register(["A777777", "A000001"])  # the sync passes its register as an index
    assert check(frame(rows), known_employee_numbers=known).quarantine.empty
    assert check(frame(rows), known_employee_numbers=register(["A000001"])).quarantined_rows == {3}
    rows = make_corpus.people()
    rows[0]["personnummer"] = "not a number"  # the manager's own row is quarantined …
    result = check(frame(rows))
    assert result.quarantined_rows == {2}  # … but the people reporting to it are not


READABLE = [name for name, (_, o) in CORPUS.items() if not isinstance(o, Error | Incomplete)]


@pytest.mark.parametrize("name", READABLE)
def test_distinct_values_found_once_give_the_same_validation(name: str) -> None:
    rows = read(name).rows
    known = pd.Index(["A000001", "A777777"])  # the sync's register, as an index
    alone = check(rows, known_employee_numbers=known)
    shared = check(rows, known_employee_numbers=known, distinct=distinct_values(rows))
    pd.testing.assert_frame_equal(shared.quarantine, alone.quarantine)
    pd.testing.assert_frame_equal(shared.valid, alone.valid)


def test_unit_codes_are_shown_only_when_they_look_like_codes() -> None:
    rows = make_corpus.people()[:2]
    rows[0]["organisationsenhet"] = "U9999"
    rows[1]["organisationsenhet"] = "Märta Ängström"  # a shifted column: never echoed
    details = list(check(frame(rows)).quarantine["detail"])
    assert details == [
        "organisationsenheten U9999 finns inte i registret",
        REASON_TEXT[Reason.UNKNOWN_UNIT],
    ]


def test_date_details_tell_format_from_impossible_dates() -> None:
    details = dict(
        zip(
            check(read("invalid_date.csv").rows).quarantine["row"],
            check(read("invalid_date.csv").rows).quarantine["detail"],
            strict=True,
        )
    )
    assert details[3] == "datumet finns inte (ÅÅÅÅ-MM-DD)"
    assert details[4] == details[5] == "ogiltigt datum (förväntat ÅÅÅÅ-MM-DD)"


def test_far_dates_are_valid() -> None:
    rows = make_corpus.people()[:1]
    rows[0]["anstallning_tom"] = "9999-12-31"  # "until further notice" in some HR systems
    valid = check(frame(rows)).valid
    assert valid.loc[2, "employment_end"] == pd.Timestamp("9999-12-31")


def test_validate_needs_every_column() -> None:
    with pytest.raises(ValueError, match="rows lack columns: sokord"):
        check(frame(make_corpus.people()).drop(columns="sokord"))


def test_empty_frame_validates_to_nothing() -> None:
    result = check(frame([]))
    assert result.valid.empty and result.quarantine.empty


# Checks of a row's own values: a row that passed them before passes them again.
OWN_CHECKS = {
    Reason.MISSING,
    Reason.TOO_LONG,
    Reason.INVALID_EMAIL,
    Reason.INVALID_DATE,
    Reason.END_BEFORE_START,
    Reason.INVALID_CATEGORY,
    Reason.CONTROL_CHARACTER,
    Reason.INVALID_PERSONNUMMER,
}


@pytest.mark.parametrize(
    "name",
    sorted(n for n, (_, outcome) in CORPUS.items() if isinstance(outcome, Valid | Quarantine)),
)
@pytest.mark.parametrize("share", ["every", "every other"])
def test_trusted_rows_still_get_every_check_beyond_the_row(name: str, share: str) -> None:
    """Trusting rows that would pass their own checks changes nothing but who is listed where:
    duplicates, units, cost centres and managers are checked for them as for every row."""
    rows = read(name).rows
    full = check(rows)
    q = full.quarantine
    own_problem = set(q.loc[q["reason"].isin([r.value for r in OWN_CHECKS]), "row"])
    trusted = ~rows.index.isin(list(own_problem))
    if share == "every other":
        trusted &= np.arange(len(rows)) % 2 == 0
    result = check(rows, trusted=trusted)
    pd.testing.assert_frame_equal(result.quarantine, full.quarantine)
    assert set(result.trusted).isdisjoint(result.valid.index)
    assert set(result.trusted) | set(result.valid.index) == set(full.valid.index)
    pd.testing.assert_frame_equal(result.valid, full.valid.drop(index=result.trusted))


def test_a_trusted_row_is_still_quarantined_for_what_lies_beyond_it() -> None:
    rows = frame(make_corpus.people()[:3])
    rows["chef_anstallningsnummer"] = ""
    rows.loc[3, "anvandarid"] = rows.loc[2, "anvandarid"]  # now shared with row 2
    rows.loc[4, "organisationsenhet"] = "U1001"
    result = check(rows, trusted=np.ones(3, dtype=bool), known_units={"U1000"})
    assert sorted(zip(result.quarantine["row"], result.quarantine["reason"], strict=True)) == [
        (2, "duplicate_user_id"),
        (3, "duplicate_user_id"),
        (4, "unknown_unit"),
    ]
    assert result.valid.empty and list(result.trusted) == []


@pytest.mark.parametrize("written", ["with separator", "twelve digits"])
def test_trusted_rows_share_a_personnummer_however_it_is_written(written: str) -> None:
    rows = make_corpus.people()[:4]
    rows[3]["personnummer"] = rows[1]["personnummer"]  # canonical: YYYYMMDD-NNNN
    if written == "twelve digits":
        rows[1]["personnummer"] = rows[1]["personnummer"].replace("-", "")
    for row in rows:
        row["chef_anstallningsnummer"] = ""
    result = check(frame(rows), trusted=np.ones(4, dtype=bool))
    assert set(zip(result.quarantine["row"], result.quarantine["reason"], strict=True)) == {
        (3, "duplicate_personnummer"),
        (5, "duplicate_personnummer"),
    }
    assert list(result.trusted) == [2, 4]


def test_validate_50k_rows() -> None:
    """Validation at size, whole columns at a time (its speed: bench/sync.py)."""
    n = 50_000
    base = frame(make_corpus.people()).iloc[[1]]  # one valid row, repeated
    rows = pd.DataFrame({c: np.repeat(base[c].to_numpy(dtype=object), n) for c in base.columns})
    first = date(1900, 1, 1)
    rows["personnummer"] = [
        make_personnummer(date.fromordinal(first.toordinal() + i // 20), 980 + i % 20).canonical()
        for i in range(n)
    ]
    rows["anstallningsnummer"] = [f"E{i:07d}" for i in range(n)]
    rows["anvandarid"] = [f"u{i:07d}" for i in range(n)]
    rows["chef_anstallningsnummer"] = "E0000000"
    rows = rows.astype("str").set_axis(pd.Index(range(2, n + 2), name="row"))
    result = check(rows)
    assert result.quarantine.empty and len(result.valid) == n
    assert list(result.valid["employee_number"]) == list(rows["anstallningsnummer"])


# --------------------------------------------------------------------------- demo round trip


@pytest.fixture(scope="module")
def town() -> demo.Town:
    return demo.generate(employees=300, seed=11, today=TODAY)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_demo_export_reads_back_and_validates_clean(
    tmp_path: Path, town: demo.Town, suffix: str
) -> None:
    path = tmp_path / f"hr-export{suffix}"
    demo.write_hr_export(town, path)
    export = read_hr_export(path)
    assert export.encoding == ("xlsx" if suffix == ".xlsx" else "utf-8-sig")
    expected = demo.hr_export_frame(town)
    expected.index = pd.Index(range(2, len(expected) + 2), name="row")
    pd.testing.assert_frame_equal(export.rows, expected.astype("str"))
    result = validate(
        export.rows,
        known_units=set(town.units["code"]),
        known_cost_centres=set(town.cost_centres["code"]),
        today=TODAY,
    )
    assert result.quarantine.empty, result.quarantine.head().to_string()
    assert len(result.valid) == len(town.employees)
    assert result.valid["samordning"].sum() == town.employees["is_samordningsnummer"].sum()


def test_demo_uses_the_shared_column_list() -> None:
    assert demo.HR_EXPORT_COLUMNS is HR_EXPORT_COLUMNS


# --------------------------------------------------------------------------- personnummer


def scalar(value: object, today: date) -> tuple[str | None, str | None]:
    try:
        return parse_personnummer(value, today=today).digits, None  # type: ignore[arg-type]
    except InvalidPersonnummer as exc:
        return None, exc.reason


def vectorised(values: Sequence[object], today: date, dtype: str) -> list[tuple[Any, Any]]:
    digits, reason = validate_personnummer_series(pd.Series(values, dtype=dtype), today=today)
    assert str(digits.dtype) == "string" and str(reason.dtype) == "string"
    plain = [None if pd.isna(d) else d for d in digits]
    why = [None if pd.isna(r) else r for r in reason]
    return list(zip(plain, why, strict=True))


births = st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31))
ODD = "0123456789-+ \t\n\u00a0\u3000İ١٢０٣x"


@st.composite
def personnummer_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["valid", "mutated", "odd", "any"]))
    if kind == "odd":
        return draw(st.text(alphabet=ODD, max_size=16))
    if kind == "any":
        return draw(st.text(max_size=16))
    p = make_personnummer(draw(births), draw(st.integers(0, 999)), samordning=draw(st.booleans()))
    digits = p.digits
    if kind == "mutated":
        i = draw(st.integers(0, 11))
        digits = digits[:i] + draw(st.sampled_from("0123456789")) + digits[i + 1 :]
    form = draw(st.sampled_from(["12", "10"]))
    sep = draw(st.sampled_from(["", "-", "+", " "]))
    body = digits if form == "12" else digits[2:]
    text = body[:-4] + sep + body[-4:]
    pad = draw(st.sampled_from(["", " ", "\t", "\n ", "\u00a0"]))
    return pad + text + draw(st.sampled_from(["", " ", "\r\n"]))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(personnummer_texts(), max_size=40), today=st.dates())
def test_series_validator_matches_the_scalar_parser(values: list[str], today: date) -> None:
    expected = [scalar(v, today) for v in values]
    assert vectorised(values, today, "str") == expected
    assert vectorised(values, today, "object") == expected


@given(today=st.dates(min_value=date(1900, 1, 1)))
def test_series_validator_handles_non_strings_like_the_scalar_parser(today: date) -> None:
    values: list[object] = [None, 198507099821, math.nan, "19850709-9821", b"19850709-9821"]
    expected = [scalar(v, today) for v in values]
    assert vectorised(values, today, "object") == expected


def test_series_validator_keeps_the_index() -> None:
    values = pd.Series(["19850709-9821", ""], index=[7, 9], dtype="str")
    digits, reason = validate_personnummer_series(values, today=TODAY)
    assert list(digits.index) == list(reason.index) == [7, 9]
    assert digits[7] == "198507099821" and pd.isna(reason[7])
    assert pd.isna(digits[9]) and reason[9] == "empty"


def test_duplicate_employee_numbers_by_key_are_those_by_value(town: demo.Town) -> None:
    """Keys from an index of known numbers (-1 for unknown ones) quarantine the same rows as
    comparing the numbers themselves: known and unknown numbers, twice and three times."""
    rows = demo.hr_export_frame(town).astype("str")
    rows.index = pd.Index(range(2, len(rows) + 2), name="row")
    numbers = rows["anstallningsnummer"].to_numpy(dtype=object).copy()
    numbers[[5, 9]] = numbers[3]  # a known number three times
    numbers[50] = numbers[60]  # and one twice
    numbers[[20, 21]] = "NY-1"  # an unknown number twice
    numbers[[30]] = "NY-2"  # an unknown number once
    numbers[[40]] = ""  # no number (a missing value, not a duplicate)
    rows["anstallningsnummer"] = pd.Series(numbers, index=rows.index, dtype="str")
    known = pd.Index(town.employees["employee_number"].to_numpy())
    args: dict[str, Any] = {
        "known_units": set(town.units["code"]),
        "known_cost_centres": set(town.cost_centres["code"]),
        "today": TODAY,
    }

    by_value = validate(rows, **args).quarantine
    by_key = validate(rows, number_keys=known.get_indexer(numbers), **args).quarantine

    pd.testing.assert_frame_equal(by_key, by_value)
    duplicate = by_value[by_value["reason"] == Reason.DUPLICATE_EMPLOYEE_NUMBER]
    assert sorted(duplicate["row"]) == [5, 7, 11, 22, 23, 52, 62]
