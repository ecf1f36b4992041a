"""The settings refuse what would be unsafe in production and say what they did in development."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

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
    assert settings.deputies == frozenset({"E12", "E40"})
