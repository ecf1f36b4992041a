"""The settings refuse what would be unsafe in production and say what they did in development."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from telefoni.core.municipalities import MunicipalityError
from telefoni.core.settings import Settings, SettingsError, generate_key


@pytest.fixture(autouse=True)
def no_telefoni_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests pass every setting themselves; the machine's TELEFONI_* must not leak in."""
    import os

    for name in [n for n in os.environ if n.startswith("TELEFONI_")]:
        monkeypatch.delenv(name)


def test_production_refuses_missing_keys(tmp_path: Path) -> None:
    with pytest.raises((SettingsError, ValidationError), match="TELEFONI_PNR_ENCRYPTION_KEY"):
        Settings(environment="production", data_dir=tmp_path)


@pytest.mark.parametrize("placeholder", ["changethis", "", "secret"])
def test_production_refuses_placeholder_keys(tmp_path: Path, placeholder: str) -> None:
    with pytest.raises((SettingsError, ValidationError), match="real key"):
        Settings(
            environment="production",
            data_dir=tmp_path,
            pnr_encryption_key=SecretStr(placeholder),
            pnr_lookup_key=SecretStr(generate_key()),
        )


def test_production_accepts_real_keys(tmp_path: Path) -> None:
    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        pnr_encryption_key=SecretStr(generate_key()),
        pnr_lookup_key=SecretStr(generate_key()),
    )
    encryption, lookup = settings.personnummer_keys()
    assert len(encryption) == len(lookup) == 32 and encryption != lookup


def test_short_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        pnr_encryption_key=SecretStr("c2hvcnQ="),
        pnr_lookup_key=SecretStr(generate_key()),
    )
    with pytest.raises(SettingsError, match="at least 32 bytes") as info:
        settings.personnummer_keys()
    assert "c2hvcnQ" not in str(info.value)


def test_development_makes_a_key_file_once_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings = Settings(environment="development", data_dir=tmp_path)
    first = settings.personnummer_keys()
    assert "Created development personnummer keys" in caplog.text
    assert (tmp_path / "dev-keys.json").stat().st_mode & 0o077 == 0  # readable by owner only
    caplog.clear()
    assert settings.personnummer_keys() == first
    assert caplog.text == ""


def test_database_defaults_to_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'telefoni.core.db'}"
    assert settings.mail_folder == tmp_path / "mail"
    assert str(settings.tz) == "Europe/Stockholm"


def test_deputies_are_the_employee_numbers_without_spaces_around(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, approval_deputies=[" E12", "E40 ", "E12"])
    assert settings.kommun().deputies == frozenset({"E12", "E40"})


# --- the municipalities served -----------------------------------------------------------------

TWO = """
[kommun.hallsberg]
name = "Hallsbergs kommun"
contact_centre_email = "kontaktcenter@hallsberg.example"
hr_export_path = "hr/hallsberg.csv"
approval_deputies = ["H100"]
signature = "Kommunledningskontoret, Hallsbergs kommun"

[kommun.laxa]
name = "Laxå kommun"
contact_centre_email = "kundtjanst@laxa.example"
hr_export_path = "/srv/hr/laxa.csv"
mail_from = "telefoni@laxa.example"
sync_max_removal_count = 10
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kommuner.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_todays_variables_mean_one_municipality(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        municipality="Askersunds kommun",
        contact_centre_email="kc@askersund.example",
        approval_deputies=["A1"],
        sync_max_removal_count=7,
    )
    (only,) = settings.municipalities
    assert (only.code, only.name) == ("askersund", "Askersunds kommun")
    assert only.contact_centre_email == "kc@askersund.example"
    assert only.deputies == {"A1"} and only.sync_max_removal_count == 7
    assert settings.kommun() is only and settings.kommun("Askersund") is only
    assert settings.home is only


def test_a_file_of_municipalities_each_with_its_own_and_the_rest_from_the_variables(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        municipalities_file=_file(tmp_path, TWO),
        mail_from="telefoni@sydnarke.example",
        approval_deadline_days=10,
    )
    hallsberg, laxa = settings.municipalities
    assert settings.home is hallsberg
    assert hallsberg.hr_export_path == tmp_path / "hr" / "hallsberg.csv"  # beside the file
    assert laxa.hr_export_path == Path("/srv/hr/laxa.csv")
    assert hallsberg.mail_from == "telefoni@sydnarke.example"  # from TELEFONI_MAIL_FROM
    assert laxa.mail_from == "telefoni@laxa.example"
    assert (hallsberg.approval_deadline_days, laxa.approval_deadline_days) == (10, 10)
    assert (hallsberg.deputies, laxa.deputies) == (frozenset({"H100"}), frozenset())
    assert laxa.sync_max_removal_count == 10 and hallsberg.sync_max_removal_count == 50
    assert hallsberg.signature == "Kommunledningskontoret, Hallsbergs kommun"
    assert laxa.sender_name == "Telefoni – Laxå kommun"
    for asked in ("laxa", "Laxå", "laxå kommun", " Laxå kommun "):
        assert settings.kommun(asked) is laxa


def test_with_several_the_municipality_must_be_named_and_known(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, municipalities_file=_file(tmp_path, TWO))
    with pytest.raises(MunicipalityError, match="ange vilken kommun") as missing:
        settings.kommun(None)
    assert "hallsberg (Hallsbergs kommun)" in str(missing.value)
    assert "laxa (Laxå kommun)" in str(missing.value)
    with pytest.raises(MunicipalityError, match="'Lekeberg' finns inte här"):
        settings.kommun("Lekeberg")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        pytest.param(
            ('contact_centre_email = "kundtjanst@laxa.example"\n', ""),
            ["kommun 'laxa'", "'contact_centre_email'", "kontaktcenters adress", "saknas"],
            id="missing-contact-centre",
        ),
        pytest.param(
            ('"kundtjanst@laxa.example"', '"kundtjanst"'),
            ["kommun 'laxa'", "'contact_centre_email'", "kontaktcenters adress"],
            id="bad-address",
        ),
        pytest.param(
            ("sync_max_removal_count = 10", "sync_max_removal_count = -1"),
            ["kommun 'laxa'", "'sync_max_removal_count'", "bromsens antal"],
            id="negative-brake",
        ),
        pytest.param(
            ("sync_max_removal_count = 10", "contact_center_email = 'x@y.example'"),
            ["kommun 'laxa'", "okänt fält 'contact_center_email'", "contact_centre_email"],
            id="misspelt-field",
        ),
        pytest.param(
            ('"/srv/hr/laxa.csv"', '"hr/hallsberg.csv"'),
            ["'hallsberg' och 'laxa'", "samma HR-export"],
            id="shared-export",
        ),
        pytest.param(
            ("[kommun.laxa]", '[kommun."Laxå"]'),
            ["kommun 'Laxå'", "'code'", "små bokstäver"],
            id="bad-code",
        ),
        pytest.param(("[kommun.laxa]", "[kommun.laxa"), ["TOML"], id="not-toml"),
    ],
)
def test_a_bad_file_of_municipalities_is_refused_at_start_naming_the_municipality_and_field(
    tmp_path: Path, change: tuple[str, str], words: list[str]
) -> None:
    path = _file(tmp_path, TWO.replace(*change))
    with pytest.raises(SettingsError) as info:
        Settings(data_dir=tmp_path, municipalities_file=path)
    message = str(info.value)
    assert message.startswith(str(path))
    for word in words:
        assert word in message


def test_a_missing_file_of_municipalities_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"kommuner\.toml: filen med kommuner finns inte"):
        Settings(data_dir=tmp_path, municipalities_file=tmp_path / "kommuner.toml")
