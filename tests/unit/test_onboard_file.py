"""`telefoni onboard` input: options and batch files made into orders, or told what is wrong."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from telefoni.cli.onboard_file import (
    OrderFileError,
    OrderInputError,
    municipality_of,
    order_from_options,
    parse_app,
    read_batch,
)
from telefoni.core.municipalities import MunicipalityError, MunicipalitySettings
from tests import factories

HEADER = "anstallningsnummer;behovskategori;modell;abonnemang;headset;data\n"
PNR = "19850709-9805"  # fictional; typed into the wrong column by mistake


def options(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "employee": "E12",
        "category": "2",
        "model": "Telefon A",
        "subscription": "BAS",
        "requested_by": "E1",
    }
    return values | changes


def write(tmp_path: Path, text: str, name: str = "skolstart.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(OrderFileError) as caught:
        read_batch(path, "E1")
    return caught.value.lines()


# ----------------------------------------------------------------------------- options


def test_options_make_the_form_with_its_defaults() -> None:
    order = order_from_options(**options())  # type: ignore[arg-type]
    assert order.employee_number == "E12" and order.need_category == 2
    assert order.headset and order.data and order.referral and not order.replacement
    assert order.apps == [] and order.deviation is None and order.wanted_date is None


def test_short_deviation_words_and_apps_are_the_form_values() -> None:
    order = order_from_options(
        **options(
            deviation="tålig",
            deviation_note="Arbetar utomhus",
            apps=["Ritverktyg Pro;49,50 kr;ritningar i fält", "Kartor Plus;19"],
            wanted_by="2027-08-01",
            headset=False,
        )  # type: ignore[arg-type]
    )
    assert order.deviation_reason == "vatten-, smuts- och stöttålig"
    assert [(a.name, a.monthly_cost_sek, a.why) for a in order.apps] == [
        ("Ritverktyg Pro", Decimal("49.50"), "ritningar i fält"),
        ("Kartor Plus", Decimal("19"), ""),
    ]
    assert str(order.wanted_by) == "2027-08-01" and not order.headset
    funk = order_from_options(**options(deviation="Funktionsnedsättning"))  # type: ignore[arg-type]
    assert funk.deviation_reason == "funktionsnedsättning"


def test_every_problem_names_its_option_in_swedish() -> None:
    with pytest.raises(OrderInputError) as caught:
        order_from_options(
            **options(model=None, subscription=" ", category="4", deviation="snygg")  # type: ignore[arg-type]
        )
    assert caught.value.problems == [
        "--model: saknas",
        "--subscription: saknas",
        "--category: måste vara 1, 2 eller 3 (§4.1)",
        "--deviation: välj funktionsnedsättning eller tålig (§4.1.1)",
    ]
    with pytest.raises(OrderInputError) as caught:
        order_from_options(
            **options(apps=["Ritverktyg;gratis;x"], wanted_by="i höst", employee="E" * 21)  # type: ignore[arg-type]
        )
    assert sorted(caught.value.problems) == [
        "--app nr 1 (kostnad): måste vara ett tal",
        "--employee: får vara högst 20 tecken",
        "--wanted-by: måste vara ett datum som ÅÅÅÅ-MM-DD",
    ]


def test_an_app_needs_a_name_and_a_cost() -> None:
    for text in ("Ritverktyg", ";49;x", ""):
        with pytest.raises(OrderInputError, match=r"--app nr 3: skriv \"Namn;kostnad"):
            parse_app(text, 3)


def test_option_problems_never_repeat_the_value() -> None:
    with pytest.raises(OrderInputError) as caught:
        order_from_options(**options(employee=PNR * 2, wanted_by=PNR))  # type: ignore[arg-type]
    assert PNR not in str(caught.value) and "9805" not in str(caught.value)


# ----------------------------------------------------------------------------- batch file


def test_a_batch_file_gives_one_order_per_row(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffAnställningsnummer;Behovskategori;Modell;Abonnemang;Headset;Data\r\n"
        "E1;2;Telefon A;BAS;ja;nej\r\n"
        "\r\n"
        "E2;1;Telefon A;BAS;;JA\r\n",
    )
    first, second = read_batch(path, "E9")
    assert (first.employee_number, first.need_category, first.headset, first.data) == (
        "E1",
        2,
        True,
        False,
    )
    assert (second.need_category, second.headset, second.data) == (1, True, True)
    assert first.requested_by == second.requested_by == "E9"


def test_headset_and_data_columns_may_be_left_out_and_windows_1252_is_read(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "anstallningsnummer;behovskategori;modell;abonnemang\nE1;3;Telefon Å;BAS\n",
        encoding="cp1252",
    )
    (order,) = read_batch(path, "E9")
    assert order.phone_model == "Telefon Å" and order.headset and order.data


def test_bad_rows_are_named_by_file_row_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "E1;2;Telefon A;BAS;ja;ja\n"
        + "E2;4;Telefon A;BAS;kanske;ja\n"  # rad 3
        + "E3;2;;BAS;ja;ja\n"  # rad 4
        + "E1;1;Telefon A;BAS;ja;ja\n"  # rad 5: E1 again
        + "E4;2\n"  # rad 6
        + f"{'E' * 21};2;Telefon A;BAS;ja;ja\n",  # rad 7
    )
    assert problems(path) == [
        "skolstart.csv, rad 3, kolumn behovskategori: måste vara 1, 2 eller 3 (§4.1)",
        "skolstart.csv, rad 3, kolumn headset: skriv ja eller nej",
        "skolstart.csv, rad 4, kolumn modell: saknas",
        "skolstart.csv, rad 5, kolumn anstallningsnummer: samma anställda som på rad 2",
        "skolstart.csv, rad 6: raden har 2 fält men rubrikraden har 6",
        "skolstart.csv, rad 7, kolumn anstallningsnummer: får vara högst 20 tecken",
    ]


def test_a_wrong_header_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "anstallningsnummer;kategori;modell;abonnemang;data;data\nE1;2;A;B;;\n")
    assert problems(path) == [
        "skolstart.csv, rad 1, kolumn kategori: okänd kolumn; kolumnerna är "
        "anstallningsnummer;behovskategori;modell;abonnemang;headset;data",
        "skolstart.csv, rad 1, kolumn data: kolumnen finns två gånger",
        "skolstart.csv, rad 1, kolumn behovskategori: kolumnen saknas i rubrikraden",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "skolstart.csv, rad 1: filen är tom"),
        (HEADER, "skolstart.csv: filen har inga beställningar"),
        (HEADER + ";;;;;\n\n", "skolstart.csv: filen har inga beställningar"),
    ],
)
def test_an_empty_file_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(write(tmp_path, text))[0].startswith(expected)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path / "finns-inte.csv") == ["finns-inte.csv: filen finns inte"]


def test_file_problems_never_repeat_a_value(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + f"{PNR * 2};{PNR};{PNR};{PNR};{PNR};{PNR}\n")
    text = "\n".join(problems(path))
    assert "9805" not in text and "850709" not in text


HALLSBERG, LAXA = (
    factories.municipality_settings("hallsberg", "Hallsbergs kommun"),
    factories.municipality_settings("laxa", "Laxå kommun"),
)
BOTH = (HALLSBERG, LAXA)
FOUND = {"E1": {"hallsberg"}, "E2": {"laxa"}, "E3": {"laxa"}, "E7": {"hallsberg", "laxa"}}


@pytest.mark.parametrize(
    ("municipalities", "asked", "numbers", "chosen"),
    [
        ((HALLSBERG,), None, ["E404"], HALLSBERG),  # one municipality: nothing to ask
        (BOTH, "Laxå", ["E7"], LAXA),  # --kommun settles it
        (BOTH, None, ["E2", "E3", "E2"], LAXA),  # every number only in Laxå
        (BOTH, None, ["E1"], HALLSBERG),
    ],
)
def test_the_municipality_of_the_orders(
    municipalities: tuple[MunicipalitySettings, ...],
    asked: str | None,
    numbers: list[str],
    chosen: MunicipalitySettings,
) -> None:
    assert municipality_of(municipalities, asked, numbers, FOUND) == chosen


@pytest.mark.parametrize(
    ("asked", "numbers", "message"),
    [
        (
            None,
            ["E1", "E7"],
            "anställningsnumret E7 finns i flera kommuner (Hallsbergs kommun, Laxå kommun); "
            "ange vilken kommun det gäller (--kommun)",
        ),
        (
            None,
            ["E1", "E2"],
            "anställningsnumren finns i olika kommuner (Hallsbergs kommun, Laxå kommun); "
            "en beställning gäller en kommun: ange vilken kommun det gäller (--kommun)",
        ),
        (
            None,
            ["E9"],
            "anställningsnumret E9 finns inte i registret i någon kommun; ange vilken kommun "
            "det gäller (--kommun); här finns hallsberg (Hallsbergs kommun), laxa (Laxå kommun)",
        ),
        (
            "Askersund",
            ["E1"],
            "kommunen 'Askersund' finns inte här; här finns hallsberg (Hallsbergs kommun), "
            "laxa (Laxå kommun)",
        ),
    ],
)
def test_when_the_numbers_do_not_settle_the_municipality_it_is_asked_for_in_swedish(
    asked: str | None, numbers: list[str], message: str
) -> None:
    with pytest.raises(MunicipalityError) as caught:
        municipality_of(BOTH, asked, numbers, FOUND)
    assert str(caught.value) == message
