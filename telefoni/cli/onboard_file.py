"""What an admin types for `telefoni onboard`: options or a batch file, made into orders.

Pure: no database, no Prefect server. Every problem is told in Swedish and names where it
is — the option, or the file, row (file line number; header = rad 1) and column — and never
repeats a value: a column filled in by mistake could hold a personnummer.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from models.onboarding_forms import DEVIATION_SV, OrderRequest
from telefoni.core.municipalities import MunicipalityError, MunicipalitySettings, choose

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

# `--deviation` takes a short word; the form takes the guideline's words.
DEVIATIONS: dict[str, str] = {
    "funktionsnedsättning": "funktionsnedsättning",
    "tålig": "vatten-, smuts- och stöttålig",
    **{text: text for text in DEVIATION_SV},
}

# The form's fields as `telefoni onboard` names them.
OPTIONS: dict[str, str] = {
    "employee_number": "--employee",
    "need_category": "--category",
    "phone_model": "--model",
    "deviation_reason": "--deviation",
    "deviation_note": "--deviation-note",
    "headset": "--headset/--no-headset",
    "subscription_option": "--subscription",
    "data": "--data/--no-data",
    "apps": "--app",
    "requested_by": "--requested-by",
    "wanted_by": "--wanted-by",
    "replacement": "--replacement",
}

# The batch file's columns, in the order they are written, and the form field of each.
COLUMNS: dict[str, str] = {
    "anstallningsnummer": "employee_number",
    "behovskategori": "need_category",
    "modell": "phone_model",
    "abonnemang": "subscription_option",
    "headset": "headset",
    "data": "data",
}
REQUIRED_COLUMNS = ("anstallningsnummer", "behovskategori", "modell", "abonnemang")
YES, NO = {"ja", "j", "yes", "1", "x"}, {"nej", "n", "no", "0"}
APP_PARTS = ("namn", "kostnad", "varför")
MAX_PROBLEMS = 20


class OrderInputError(ValueError):
    """The options do not make an order. `problems`: Swedish lines, each naming an option."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class FileProblem:
    row: int | None
    column: str | None
    text: str


class OrderFileError(ValueError):
    """A batch file that does not make orders; every problem names the file, row and column."""

    def __init__(self, path: Path, problems: Sequence[FileProblem]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        out = []
        for p in self.problems:
            where = [self.path.name]
            if p.row is not None:
                where.append(f"rad {p.row}")
            if p.column is not None:
                where.append(f"kolumn {p.column}")
            out.append(f"{', '.join(where)}: {p.text}")
        return out


# ----------------------------------------------------------------------------- messages


def swedish(error: Mapping[str, Any]) -> str:
    """One pydantic error in Swedish, without the value that caused it."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "saknas"
    if kind == "string_too_short":
        return "får inte vara tom"
    if kind == "string_too_long":
        return f"får vara högst {ctx.get('max_length')} tecken"
    if kind == "literal_error":
        return f"måste vara en av: {ctx.get('expected', '')}".replace("'", "")
    if kind.startswith("date"):
        return "måste vara ett datum som ÅÅÅÅ-MM-DD"
    if kind.startswith("decimal_max") or kind == "decimal_whole_digits":
        return "har för många siffror"
    if kind.startswith("decimal") or kind.startswith(("float", "int")):
        return "måste vara ett tal"
    if kind in ("greater_than_equal", "greater_than"):
        return "får inte vara negativ"
    if kind.startswith("bool"):
        return "måste vara ja eller nej"
    return "har ett ogiltigt värde"


def explain(error: ValidationError, names: Mapping[str, str]) -> list[str]:
    """Each error of an `OrderRequest` as "<name>: <Swedish message>"."""
    lines = []
    for e in error.errors():
        loc = e.get("loc", ())
        field = str(loc[0]) if loc else ""
        name = names.get(field, field or "beställningen")
        if field == "apps" and len(loc) > 1 and isinstance(loc[1], int):
            part = {"name": "namn", "monthly_cost_sek": "kostnad", "why": "varför"}.get(
                str(loc[2]) if len(loc) > 2 else "", ""
            )
            name = f"{name} nr {loc[1] + 1}" + (f" ({part})" if part else "")
        lines.append(f"{name}: {swedish(e)}")
    return lines


# ----------------------------------------------------------------------------- options


def parse_app(text: str, position: int) -> dict[str, str]:
    """`--app "Namn;kostnad;varför"` (kostnad in kr per month, "49" or "49,50")."""
    parts = [p.strip() for p in text.split(";", 2)]
    if len(parts) < 2 or not parts[0]:
        raise OrderInputError(
            [
                f'--app nr {position}: skriv "Namn;kostnad per månad;varför", t.ex. '
                '"Ritverktyg Pro;49;ritningar i fält"'
            ]
        )
    cost = parts[1].lower().removesuffix("kr").strip().replace(" ", "").replace(",", ".")
    return {"name": parts[0], "monthly_cost_sek": cost, "why": parts[2] if len(parts) > 2 else ""}


def deviation_value(text: str | None, name: str = "--deviation") -> str | None:
    if text is None or not text.strip():
        return None
    value = DEVIATIONS.get(text.strip().lower())
    if value is None:
        raise OrderInputError([f"{name}: välj funktionsnedsättning eller tålig (§4.1.1)"])
    return value


def order_from_options(
    *,
    employee: str | None,
    category: str | None,
    model: str | None,
    subscription: str | None,
    requested_by: str | None,
    headset: bool = True,
    data: bool = True,
    deviation: str | None = None,
    deviation_note: str | None = None,
    apps: Sequence[str] = (),
    wanted_by: str | None = None,
    replacement: bool = False,
) -> OrderRequest:
    """The order `telefoni onboard` describes, or an `OrderInputError` naming each option."""
    problems: list[str] = []
    required = {
        "--employee": employee,
        "--category": category,
        "--model": model,
        "--subscription": subscription,
        "--requested-by": requested_by,
    }
    problems += [
        f"{name}: saknas" for name, value in required.items() if value is None or not value.strip()
    ]
    if category and category.strip() and category.strip() not in ("1", "2", "3"):
        problems.append("--category: måste vara 1, 2 eller 3 (§4.1)")
    parsed_apps = []
    for n, text in enumerate(apps, start=1):
        try:
            parsed_apps.append(parse_app(text, n))
        except OrderInputError as exc:
            problems += exc.problems
    try:
        reason = deviation_value(deviation)
    except OrderInputError as exc:
        problems += exc.problems
        reason = None
    if problems:
        raise OrderInputError(problems)
    values: dict[str, Any] = {
        "employee_number": employee,
        "need_category": int(str(category).strip()),
        "phone_model": model,
        "subscription_option": subscription,
        "requested_by": requested_by,
        "headset": headset,
        "data": data,
        "deviation_reason": reason,
        "deviation_note": deviation_note or "",
        "apps": parsed_apps,
        "wanted_by": wanted_by or "",
        "replacement": replacement,
    }
    try:
        return OrderRequest.model_validate(values)
    except ValidationError as exc:
        raise OrderInputError(explain(exc, OPTIONS)) from None


# ----------------------------------------------------------------------------- batch file


def _column_name(text: str) -> str:
    """A header as written ("Anställningsnummer ") → our column name ("anstallningsnummer")."""
    plain = unicodedata.normalize("NFKD", text.strip().strip("\ufeff").lower())
    return "".join(c for c in plain if not unicodedata.combining(c)).replace(" ", "_")


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise OrderFileError(
            path, [FileProblem(None, None, "filen är varken UTF-8 eller Windows-1252")]
        ) from None


def _yes_no(text: str) -> bool | None:
    value = text.strip().lower()
    if not value:
        return True  # the form's default: headset and data are ordered unless someone says no
    if value in YES:
        return True
    if value in NO:
        return False
    return None


def read_batch(path: Path, requested_by: str) -> list[OrderRequest]:
    """Every order of a `;`-separated batch file, or an `OrderFileError` naming each problem.

    Columns: anstallningsnummer;behovskategori;modell;abonnemang;headset;data (headset and data
    ja/nej, empty = ja). UTF-8 with or without BOM, or Windows-1252. Blank lines are skipped.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), delimiter=";")
    names = _header(path, reader)
    orders, problems = _read_rows(reader, names, requested_by)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise OrderFileError(path, unique)
    if not orders:
        raise OrderFileError(path, [FileProblem(None, None, "filen har inga beställningar")])
    return orders


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise OrderFileError(path, [FileProblem(None, None, "filen finns inte")]) from None
    except OSError:
        raise OrderFileError(path, [FileProblem(None, None, "filen går inte att läsa")]) from None
    return _decode(path, data)


def _header(path: Path, reader: CsvReader) -> list[str]:
    """The column names of the header row; an `OrderFileError` if they are not ours."""
    try:
        header = next(reader, None)
    except csv.Error:
        raise OrderFileError(
            path, [FileProblem(1, None, "rubrikraden går inte att läsa")]
        ) from None
    if header is None or not any(h.strip() for h in header):
        raise OrderFileError(
            path,
            [
                FileProblem(
                    1, None, "filen är tom; första raden ska vara rubrikerna " + ";".join(COLUMNS)
                )
            ],
        )
    names = [_column_name(h) for h in header]
    problems = [
        FileProblem(1, raw.strip() or f"nr {i}", "okänd kolumn; kolumnerna är " + ";".join(COLUMNS))
        for i, (raw, name) in enumerate(zip(header, names, strict=True), start=1)
        if name not in COLUMNS
    ]
    problems += [
        FileProblem(1, name, "kolumnen finns två gånger")
        for name in sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    ]
    problems += [
        FileProblem(1, name, "kolumnen saknas i rubrikraden")
        for name in REQUIRED_COLUMNS
        if name not in names
    ]
    if problems:
        raise OrderFileError(path, problems)
    return names


def _read_rows(
    reader: CsvReader, names: list[str], requested_by: str
) -> tuple[list[OrderRequest], list[FileProblem]]:
    """The orders of the rows after the header, and the problems (up to about MAX_PROBLEMS)."""
    orders: list[OrderRequest] = []
    problems: list[FileProblem] = []
    seen: dict[str, int] = {}
    try:
        for fields in reader:
            row = reader.line_num
            if len(problems) >= MAX_PROBLEMS:
                break
            if not any(f.strip() for f in fields):
                continue
            order, found = _row_order(row, fields, names, requested_by)
            problems += found
            if order is None:
                continue
            if order.employee_number in seen:
                problems.append(
                    FileProblem(
                        row,
                        "anstallningsnummer",
                        f"samma anställda som på rad {seen[order.employee_number]}",
                    )
                )
                continue
            seen[order.employee_number] = row
            orders.append(order)
    except csv.Error:
        problems.append(FileProblem(reader.line_num, None, "raden går inte att läsa (citattecken)"))
    return orders, problems


def _row_order(
    row: int, fields: list[str], names: list[str], requested_by: str
) -> tuple[OrderRequest | None, list[FileProblem]]:
    """The order on one row of the file, or None and the row's problems."""
    if len(fields) != len(names):
        text = f"raden har {len(fields)} fält men rubrikraden har {len(names)}"
        return None, [FileProblem(row, None, text)]
    values, problems = _row_values(row, dict(zip(names, fields, strict=True)), requested_by)
    if problems:
        return None, problems
    try:
        return OrderRequest.model_validate(values), []
    except ValidationError as exc:
        where = {field: column for column, field in COLUMNS.items()}
        for e in exc.errors():
            loc = e.get("loc", ())
            field = str(loc[0]) if loc else ""
            if field == "requested_by":
                problems.append(FileProblem(None, None, f"--requested-by: {swedish(e)}"))
            else:
                problems.append(FileProblem(row, where.get(field, field), swedish(e)))
        return None, problems


def _row_values(
    row: int, cells: dict[str, str], requested_by: str
) -> tuple[dict[str, Any], list[FileProblem]]:
    """A row's cells as the form's fields, and what is wrong with them (nothing: a form)."""
    values: dict[str, Any] = {"requested_by": requested_by}
    problems: list[FileProblem] = []
    for column, field in COLUMNS.items():
        if column not in cells:
            continue
        text = cells[column].strip()
        if column in ("headset", "data"):
            flag = _yes_no(text)
            if flag is None:
                problems.append(FileProblem(row, column, "skriv ja eller nej"))
            values[field] = flag
        elif column == "behovskategori":
            if text not in ("1", "2", "3"):
                problems.append(FileProblem(row, column, "måste vara 1, 2 eller 3 (§4.1)"))
            values[field] = int(text) if text in ("1", "2", "3") else None
        elif not text:
            problems.append(FileProblem(row, column, "saknas"))
        else:
            values[field] = text
    return values, problems


# ----------------------------------------------------------------------------- municipality


def municipality_of(
    municipalities: Sequence[MunicipalitySettings],
    asked: str | None,
    numbers: Sequence[str],
    found_in: Mapping[str, Collection[str]],
) -> MunicipalitySettings:
    """The municipality the orders are for: the one --kommun names (`asked`), or, if not
    given, the only one there is, or the one municipality (code) where `found_in` (employee
    number → codes of the municipalities that have it) finds every one of `numbers`.
    MunicipalityError says in Swedish why not, and asks for --kommun."""
    configured = tuple(municipalities)
    if asked is not None or len(configured) == 1:
        return choose(configured, asked)
    names = {m.code: m.name for m in configured}
    ask = "ange vilken kommun det gäller (--kommun)"
    here = "; här finns " + ", ".join(f"{m.code} ({m.name})" for m in configured)
    codes: set[str] = set()
    for number in dict.fromkeys(numbers):
        where = sorted(c for c in found_in.get(number, ()) if c in names)
        if not where:
            raise MunicipalityError(
                f"anställningsnumret {number} finns inte i registret i någon kommun; {ask}{here}"
            )
        if len(where) > 1:
            raise MunicipalityError(
                f"anställningsnumret {number} finns i flera kommuner "
                f"({', '.join(names[c] for c in where)}); {ask}"
            )
        codes.add(where[0])
    if len(codes) != 1:
        raise MunicipalityError(
            "anställningsnumren finns i olika kommuner "
            f"({', '.join(names[c] for c in sorted(codes))}); en beställning gäller en kommun: "
            f"{ask}"
        )
    return choose(configured, codes.pop())
