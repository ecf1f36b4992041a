"""One settings object for the whole system, read from `TELEFONI_*` environment variables.

What differs between the municipalities one installation serves is each one's own
(`telefoni.core.municipalities`): from the file `TELEFONI_MUNICIPALITIES_FILE` names, or,
without it, the one municipality these variables describe.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from zoneinfo import ZoneInfo

from pydantic import EmailStr, Field, PrivateAttr, SecretStr, computed_field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from telefoni.core.municipalities import (
    MunicipalityError,
    MunicipalitySettings,
    choose,
    from_variables,
    load_file,
)

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_KEYS = {"", "changethis", "change-me", "changeme", "secret", "placeholder"}
KEY_FILE_NAME = "dev-keys.json"
# `telefoni up`'s copy of examples/demo-kommuner.toml in the data folder (see telefoni.up).
DEMO_MUNICIPALITIES_COPY = "demo-kommuner.toml"


class SettingsError(RuntimeError):
    """The configuration cannot be used as it is."""


class Settings(BaseSettings):
    """Everything the system can be told about its surroundings.

    The fields a municipality has of its own (`MunicipalitySettings`: mail_from, the contact
    centre's and ordering function's addresses, the HR export, the brake, the approval
    deputies and deadlines) are read only through `kommun`: here they describe the one
    municipality, or are what the municipalities of a file leave out."""

    model_config = SettingsConfigDict(env_prefix="TELEFONI_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = PROJECT_ROOT / "data"
    database_url: str = ""

    timezone: str = "Europe/Stockholm"
    # The municipalities served: a TOML file of them, or the one the variables below describe
    # (its code, e.g. for --kommun, from its name unless given).
    municipalities_file: Path | None = None
    municipality: str = "Hallsbergs kommun"
    municipality_code: str | None = None
    signature: str | None = None  # under every mail, e.g. "Kommunledningskontoret"

    # Mail: with no SMTP host, mail is written as .eml files into `mail_folder`.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 30.0
    mail_from: EmailStr = "telefoni@hallsberg.example"
    mail_folder: Path | None = None

    ordering_function_email: EmailStr = "bestallning@hallsberg.example"
    contact_centre_email: EmailStr = "kontaktcenter@hallsberg.example"

    # Personnummer protection: base64 keys of at least 32 bytes, kept apart from the database.
    pnr_encryption_key: SecretStr | None = None
    pnr_lookup_key: SecretStr | None = None

    prefect_ui_url: str = "http://127.0.0.1:4200"

    # The directory sync (§3.1): where HR drops its export, and the brake.
    hr_export_path: Path = PROJECT_ROOT / "data" / "hr" / "hr-export.csv"
    hr_column_map: dict[str, str] = Field(default_factory=dict)  # HR's header → ours
    hr_read_retries: int = Field(5, ge=0)  # while the file looks half-written
    hr_read_retry_seconds: float = Field(30.0, ge=0)
    sync_max_removal_share: float = Field(0.05, ge=0, le=1)
    sync_max_removal_count: int = Field(50, ge=0)
    sync_max_shrink_share: float = Field(0.20, ge=0, le=1)

    # Onboarding orders (§4, §6.1): who may decide besides the manager, and how long they have.
    approval_deputies: list[str] = Field(default_factory=list)  # employee numbers
    approval_deadline_days: float = Field(14.0, gt=0)
    approval_reminder_hours: float = Field(48.0, gt=0)
    approval_escalation_days: float = Field(7.0, ge=0)  # to the manager's manager; 0: never
    admin_email: EmailStr = "it@hallsberg.example"  # the IT admin: told of locked asks
    # Proof of who answers: wrong one-time codes before an ask locks, codes sent per person.
    answer_max_attempts: int = Field(5, ge=1)
    answer_max_codes: int = Field(3, ge=1)
    # Offboarding (§8.1): the sync starts it this many days before an employment ends; the
    # manager attests the factory reset within so many days after the last working day.
    offboarding_window_days: int = Field(14, ge=0, le=365)
    offboarding_attest_days: int = Field(7, ge=0, le=90)
    # How long an approval or delivery wait keeps its process before it suspends (seconds).
    approval_poll_seconds: float = Field(10.0, gt=0)

    # The operator gateway (§6.1): "email" sends a structured order to the ordering
    # function's address through the outbox; "http" calls the operator's order API.
    operator_gateway: Literal["email", "http"] = "email"
    operator_api_url: str | None = None
    operator_api_token: SecretStr | None = None
    operator_timeout_seconds: float = Field(10.0, gt=0)
    # How long a run asks the operator API about deliveries before it waits on a form.
    operator_delivery_wait_seconds: float = Field(60.0, ge=0)

    # The relay: temporary refusals (4xx) wait, growing, for about a day before a dead letter.
    relay_max_attempts: int = Field(12, ge=1)
    relay_backoff_seconds: float = Field(300.0, ge=0)
    relay_backoff_factor: float = Field(2.0, ge=1)
    relay_backoff_max_seconds: float = Field(4 * 3600.0, ge=0)
    relay_jitter: float = Field(0.2, ge=0, le=1)

    _municipalities: tuple[MunicipalitySettings, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> Self:
        try:
            self._municipalities = (
                load_file(self.municipalities_file, self.__dict__)
                if self.municipalities_file is not None
                else (from_variables(self.__dict__, self.municipality_code),)
            )
        except MunicipalityError as exc:
            raise SettingsError(str(exc)) from None
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'telefoni.core.db'}"
        if self.mail_folder is None:
            self.mail_folder = self.data_dir / "mail"
        ZoneInfo(self.timezone)  # raises for an unknown zone
        if self.environment == "production":
            for name in ("pnr_encryption_key", "pnr_lookup_key"):
                value: SecretStr | None = getattr(self, name)
                if value is None or value.get_secret_value().strip().lower() in PLACEHOLDER_KEYS:
                    raise SettingsError(
                        f"TELEFONI_{name.upper()} must be set to a real key in production "
                        "(generate one with `telefoni keys generate`)."
                    )
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def emails_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def municipalities(self) -> tuple[MunicipalitySettings, ...]:
        """Every municipality served, in the order configured (the first: `home`)."""
        return self._municipalities

    @property
    def home(self) -> MunicipalitySettings:
        """The first municipality: where a register from before municipalities is put."""
        return self._municipalities[0]

    def kommun(self, asked: str | None = None) -> MunicipalitySettings:
        """The municipality ``asked`` names (its code or name); None: the only one there is.
        MunicipalityError, in Swedish, when it is missing or unknown."""
        return choose(self._municipalities, asked)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def personnummer_keys(self) -> tuple[bytes, bytes]:
        """The (encryption, lookup) keys; in development a local key file is made once."""
        if self.pnr_encryption_key is not None and self.pnr_lookup_key is not None:
            return (
                _decode_key(self.pnr_encryption_key, "TELEFONI_PNR_ENCRYPTION_KEY"),
                _decode_key(self.pnr_lookup_key, "TELEFONI_PNR_LOOKUP_KEY"),
            )
        if self.environment == "production":  # pragma: no cover - refused by the validator
            raise SettingsError("personnummer keys are missing")
        return _development_keys(self.data_dir / KEY_FILE_NAME)


def generate_key() -> str:
    """A new random key, base64-encoded, for TELEFONI_PNR_*_KEY."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _decode_key(value: SecretStr, name: str) -> bytes:
    raw = value.get_secret_value().strip()
    if raw.lower() in PLACEHOLDER_KEYS:
        raise SettingsError(f"{name} is a placeholder; generate one with `telefoni keys generate`")
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except ValueError:
        raise SettingsError(f"{name} is not base64") from None
    if len(key) < 32:
        raise SettingsError(f"{name} must decode to at least 32 bytes")
    return key


def _development_keys(path: Path) -> tuple[bytes, bytes]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"encryption": generate_key(), "lookup": generate_key()}, f)
        log.warning(
            "Created development personnummer keys in %s (development only; "
            "set TELEFONI_PNR_ENCRYPTION_KEY and TELEFONI_PNR_LOOKUP_KEY in production)",
            path,
        )
    stored = json.loads(path.read_text())
    return (
        _decode_key(SecretStr(stored["encryption"]), f"{path}: encryption"),
        _decode_key(SecretStr(stored["lookup"]), f"{path}: lookup"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own `Settings`)."""
    return Settings()
