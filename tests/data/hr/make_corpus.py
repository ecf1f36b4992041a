"""Write the HR-export bad-input corpus next to this file (or into the folder given).

    uv run python tests/data/hr/make_corpus.py [FOLDER]

Fictional data only: Sjöbacka kommun, personnummer with birth numbers 980–999 (Skatteverket's
test series), units U1000/U1001 and cost centres KS1000/KS1001. Every file is written from the
ten people below; README.md says what is wrong with each and what reading it must give
(tests/unit/test_hr_export.py checks exactly that). The text files come out byte for byte the
same on every run; the XLSX files differ only in their timestamps.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Final

from openpyxl import Workbook

from models.hr_export import HR_EXPORT_COLUMNS
from models.personnummer import make_personnummer

HERE = Path(__file__).resolve().parent
UNITS = {"U1000": "Stadshustorget 1, 694 80 Sjöbacka", "U1001": "Skolgatan 4, 694 81 Sjöbacka"}

# first name | last name | birth date | birth number | samordning | title | unit | start | end |
# need category
PEOPLE: Final = """
Åsa|Öberg|1968-03-12|980|0|Enhetschef|U1000|2012-03-01||1
Märta|Ängström|1979-11-30|981|0|Handläggare|U1000|2019-08-15||2
Jörgen|Björk|1985-07-09|982|0|Vaktmästare|U1001|2021-01-10|2026-12-31|3
Kåre|Nilsson|1990-02-14|983|1|Lärare|U1001|2024-05-02||
Björn|Åkesson|1958-06-01|984|0|Rektor|U1001|2010-08-01||1
Sölve|Hägg|2001-12-24|985|0|Elevassistent|U1001|2023-08-14||3
Göran|Ståhl|1972-04-30|986|0|Ekonom|U1000|2016-02-01||2
Ingrid|Löfgren|1964-09-05|987|0|Registrator|U1000|2005-05-16||2
Mårten|Sjöö|1995-01-31|988|0|Lärare|U1001|2022-08-10||2
Elin|Dahlström|1988-10-03|989|0|Kommunikatör|U1000|2020-09-01||2
"""
MANAGER = {0: "", 4: "A000101"}  # everyone else reports to Björn Åkesson (U1001) or Åsa (U1000)


def _fold(text: str) -> str:
    return text.lower().translate(str.maketrans("åäöé", "aaoe"))


def people() -> list[dict[str, str]]:
    """The ten employees as HR-export rows (text), rows 2–11 of a valid file."""
    rows = []
    for i, line in enumerate(PEOPLE.strip().splitlines()):
        first, last, birth, serial, samordning, title, unit, start, end, cat = line.split("|")
        pnr = make_personnummer(
            date.fromisoformat(birth), int(serial), samordning=samordning == "1"
        )
        number = f"A{101 + i:06d}"
        manager = MANAGER.get(i, "A000105" if unit == "U1001" else "A000101")
        rows.append(
            {
                "anstallningsnummer": number,
                "personnummer": pnr.canonical(),
                "fornamn": first,
                "efternamn": last,
                "epost": f"{_fold(first)}.{_fold(last)}@sjobacka.example",
                "titel": title,
                "anvandarid": f"{_fold(first)[:2]}{_fold(last)[:2]}{1001 + i:04d}",
                "organisationsenhet": unit,
                "kostnadsstalle": "KS" + unit[1:],
                "besoksadress": UNITS[unit],
                "chef_anstallningsnummer": manager,
                "anstallning_from": start,
                "anstallning_tom": end,
                "behovskategori": cat,
                "sokord": f"{_fold(title)}, {unit.lower()}",
            }
        )
    return rows


def _field(value: str, sep: str) -> str:
    if any(ch in value for ch in (sep, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"'
    return value


def _lines(
    rows: Sequence[dict[str, str]], columns: Sequence[str] = HR_EXPORT_COLUMNS, sep: str = ";"
) -> list[str]:
    out = [sep.join(columns)]
    out += [sep.join(_field(row.get(c, ""), sep) for c in columns) for row in rows]
    return out


def _text(lines: Sequence[str], newline: str = "\n", *, final: bool = True) -> str:
    return newline.join(lines) + (newline if final else "")


def _with(row: dict[str, str], **changes: str) -> dict[str, str]:
    return {**row, **changes}


def _changed(changes: dict[int, dict[str, str]]) -> list[dict[str, str]]:
    """The ten people with some fields changed; keys are file rows (first person = rad 2)."""
    return [_with(r, **changes.get(i + 2, {})) for i, r in enumerate(people())]


def text_files() -> dict[str, bytes]:
    """Every text file of the corpus, name -> bytes."""
    base = people()
    utf8 = _text(_lines(base))
    files: dict[str, str | bytes] = {
        "valid_utf8.csv": utf8,
        "valid_utf8_bom.csv": b"\xef\xbb\xbf" + utf8.encode(),
        "valid_cp1252.csv": utf8.encode("cp1252"),
        "crlf.csv": _text(_lines(base), "\r\n"),
        "no_final_newline.csv": _text(_lines(base), final=False),
        "blank_lines.csv": _text([*_lines(base)[:4], "", "   ", *_lines(base)[4:], "", ""]),
        "whitespace_around_values.csv": _text(
            [
                ";".join(f" {c} " for c in HR_EXPORT_COLUMNS),
                *[";".join(f"  {r[c]}\t" for c in HR_EXPORT_COLUMNS) for r in base],
            ]
        ),
        "comma_separated.csv": _text(_lines(base, sep=",")),
        "tab_separated.csv": _text(_lines(base, sep="\t")),
        "missing_column.csv": _text(
            _lines(base, [c for c in HR_EXPORT_COLUMNS if c != "personnummer"])
        ),
        "missing_optional_column.csv": _text(
            _lines(base, [c for c in HR_EXPORT_COLUMNS if c != "sokord"])
        ),
        "duplicate_column.csv": _text(_lines(base, [*HR_EXPORT_COLUMNS, "fornamn"])),
        "extra_column.csv": _text(
            _lines(
                [_with(r, lonekod="4711") for r in base],
                [*HR_EXPORT_COLUMNS[:6], "lonekod", *HR_EXPORT_COLUMNS[6:]],
            )
        ),
        "mapped_headers.csv": _text(
            [
                ";".join(["Anst.nr", "Personnr", "Förnamn", "Efternamn", *HR_EXPORT_COLUMNS[4:]]),
                *_lines(base)[1:],
            ]
        ),
        "no_header.csv": _text(_lines(base)[1:]),
        "not_a_table.csv": "Hej!\nHär kommer månadens lönefil.\nMvh Löneenheten\n",
        "empty.csv": b"",
        "bom_only.csv": b"\xef\xbb\xbf",
        "whitespace_only.csv": "\r\n  \n\t\n",
        "header_only.csv": _text(_lines([])),
        "header_only_blank_lines.csv": _text([*_lines([]), "", ""]),
        "cut_mid_row.csv": utf8[: _cut(utf8)],
        "cut_in_header.csv": ";".join(HR_EXPORT_COLUMNS[:4]) + ";ep",
        "cut_mid_character.csv": _cut_in_character(utf8),
        "too_many_fields.csv": _text(
            [line + (";x" if i == 3 else "") for i, line in enumerate(_lines(base), 1)]
        ),
        "too_few_fields.csv": _text(
            [line.rsplit(";", 3)[0] if i == 3 else line for i, line in enumerate(_lines(base), 1)]
        ),
        "unclosed_quote.csv": _text(
            [
                line.replace("Vaktmästare", '"Vaktmästare') if i == 4 else line
                for i, line in enumerate(_lines(base), 1)
            ]
        ),
        "bad_quoting.csv": _text(
            [
                line.replace("Vaktmästare", '"Vakt"mästare') if i == 4 else line
                for i, line in enumerate(_lines(base), 1)
            ]
        ),
        "invalid_encoding.csv": utf8.encode("cp1252").replace(b"Sj\xf6\xf6", b"Sj\x81\x81"),
        "utf16.csv": utf8.encode("utf-16"),
        "mixed_encoding.csv": utf8.encode().replace("Sjöö".encode(), "Sjöö".encode("cp1252")),
        "duplicate_employee_number.csv": _text(
            _lines(_changed({4: {"anstallningsnummer": "A000102"}}))
        ),
        "duplicate_personnummer.csv": _text(
            _lines(_changed({7: {"personnummer": _ten_digit(base[0]["personnummer"])}}))
        ),
        "duplicate_user_id.csv": _text(_lines(_changed({9: {"anvandarid": "maan1002"}}))),
        "invalid_personnummer.csv": _text(
            _lines(
                _changed(
                    {
                        3: {"personnummer": _bad_check(base[1]["personnummer"])},
                        4: {"personnummer": "19850230-9823"},
                        5: {"personnummer": "19900274-98AB"},
                        6: {"personnummer": make_personnummer(date(2099, 1, 1), 990).canonical()},
                    }
                )
            )
        ),
        "invalid_date.csv": _text(
            _lines(
                _changed(
                    {
                        3: {"anstallning_from": "2019-13-15"},
                        4: {"anstallning_tom": "31/12/2026"},
                        5: {"anstallning_from": "2024-5-2"},
                    }
                )
            )
        ),
        "end_before_start.csv": _text(_lines(_changed({4: {"anstallning_tom": "2020-12-31"}}))),
        "unknown_unit.csv": _text(_lines(_changed({3: {"organisationsenhet": "U9999"}}))),
        "unknown_cost_centre.csv": _text(_lines(_changed({3: {"kostnadsstalle": "KS9999"}}))),
        "unknown_manager.csv": _text(_lines(_changed({4: {"chef_anstallningsnummer": "A999999"}}))),
        "invalid_email.csv": _text(
            _lines(
                _changed(
                    {
                        3: {"epost": "marta.angstrom@@sjobacka.example"},
                        4: {"epost": "jorgen bjork@sjobacka.example"},
                        5: {"epost": "kare.nilsson@sjobacka"},
                    }
                )
            )
        ),
        "invalid_category.csv": _text(
            _lines(_changed({3: {"behovskategori": "4"}, 4: {"behovskategori": "A"}}))
        ),
        "missing_required_field.csv": _text(
            _lines(
                _changed(
                    {
                        3: {"fornamn": ""},
                        4: {"anstallning_from": ""},
                        5: {"organisationsenhet": "", "kostnadsstalle": ""},
                    }
                )
            )
        ),
        "too_long.csv": _text(_lines(_changed({3: {"titel": "Handläggare " * 20}}))),
        "several_problems.csv": _text(
            _lines(
                _changed(
                    {
                        3: {
                            "personnummer": _bad_check(base[1]["personnummer"]),
                            "epost": "inte-en-adress",
                            "organisationsenhet": "U9999",
                            "behovskategori": "9",
                        }
                    }
                )
            )
        ),
        "control_character.csv": _text(
            _lines(_changed({3: {"besoksadress": "Stadshustorget 1\nplan 2, 694 80 Sjöbacka"}}))
        ),
        "quoted_semicolon.csv": _text(
            _lines(
                _changed(
                    {
                        3: {"besoksadress": "Stadshustorget 1; plan 2, 694 80 Sjöbacka"},
                        4: {"titel": 'Vaktmästare "Fastighet"'},
                    }
                )
            )
        ),
        "formula_like_values.csv": _text(
            _lines(
                _changed(
                    {
                        3: {"titel": "=SUM(A1)"},
                        4: {"sokord": "+46 bygglov"},
                        5: {"titel": "-Lärare"},
                        6: {"sokord": "@rektor"},
                    }
                )
            )
        ),
        "everyone_removed.csv": _text(_lines(base[:1])),
        "short.csv": _text(_lines(base[:7])),
        "not_really.xlsx": utf8,
    }
    mixed = _lines(base)
    ends = ["\r\n", "\n", "\r\n", "\r", "\n", "\r\n", "\n", "\n", "\r\n", "\r\n", "\n"]
    files["mixed_line_endings.csv"] = "".join(
        line + end for line, end in zip(mixed, ends, strict=True)
    )
    return {name: v if isinstance(v, bytes) else v.encode() for name, v in files.items()}


def _cut(text: str) -> int:
    """A position in the middle of the last row (after its ninth field)."""
    last = text.rstrip("\n").rindex("\n") + 1
    position = last
    for _ in range(9):
        position = text.index(";", position) + 1
    return position + 4


def _cut_in_character(text: str) -> bytes:
    """UTF-8 cut inside the two bytes of a 'ö' in the last row."""
    data = text.encode()
    last = data.rstrip(b"\n").rindex(b"\n")
    return data[: data.index("ö".encode(), last) + 1]


def _ten_digit(canonical: str) -> str:
    return canonical[2:]


def _bad_check(canonical: str) -> str:
    return canonical[:-1] + str((int(canonical[-1]) + 1) % 10)


def _xlsx(rows: Sequence[dict[str, str]], typed: bool = True) -> bytes:
    """A workbook like an HR system writes it; with ``typed`` some cells are dates and numbers."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Anställda"
    sheet.append(list(HR_EXPORT_COLUMNS))
    for row in rows:
        values: list[object] = [row[c] or None for c in HR_EXPORT_COLUMNS]
        if typed:
            start = HR_EXPORT_COLUMNS.index("anstallning_from")
            values[start] = datetime.fromisoformat(row["anstallning_from"])
            category = HR_EXPORT_COLUMNS.index("behovskategori")
            values[category] = float(row["behovskategori"]) if row["behovskategori"] else None
        sheet.append(values)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, never a formula
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_files() -> dict[str, bytes]:
    valid = _xlsx(people())
    return {
        "valid.xlsx": valid,
        "formula_like_values.xlsx": _xlsx(_changed({3: {"titel": "=SUM(A1)"}}), typed=False),
        "invalid_rows.xlsx": _xlsx(
            _changed({3: {"organisationsenhet": "U9999"}, 4: {"anstallningsnummer": "A000102"}})
        ),
        "truncated.xlsx": valid[: len(valid) // 2],
    }


def write_corpus(folder: Path, *, xlsx: bool = True) -> list[str]:
    """Write every file into ``folder``; returns the names written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = text_files()
    if xlsx:
        files.update(xlsx_files())
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return sorted(files)


def main(argv: Sequence[str], echo: Callable[[str], object]) -> None:
    folder = Path(argv[0]) if argv else HERE
    names = write_corpus(folder)
    echo(f"{len(names)} filer skrivna till {folder}")


if __name__ == "__main__":
    main(sys.argv[1:], sys.stdout.write)
