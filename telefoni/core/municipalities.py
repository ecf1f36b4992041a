"""Each municipality's own settings, from one file of municipalities or from `TELEFONI_*`.

One installation may serve several municipalities (small ones run their IT together). What
differs between them is here: the name, the mail sender and signature, the contact centre's
and the ordering function's addresses, the HR export and its columns, the sync's brake, who
may decide on orders and how long they have, and whom to tell when something is stuck.
Without a file the installation serves one municipality, made of today's `TELEFONI_*`
variables.

The file is TOML, a table per municipality under ``[kommun.<kod>]``, with the same names as
the variables (``contact_centre_email``, ``hr_export_path`` …); whatever a municipality
leaves out it takes from the variables, except its name, contact centre and HR export, which
each municipality of a file must give. A relative path is relative to the file's folder.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

# A municipality's code: what the CLI's --kommun, deployment parameters and locks use.
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
# What a municipality of a file must say itself (the rest may come from TELEFONI_*).
REQUIRED_IN_FILE = ("name", "contact_centre_email", "hr_export_path")
FIELD_SV = {
    "code": "kod",
    "name": "namn",
    "mail_from": "avsändaradress",
    "signature": "signatur",
    "contact_centre_email": "kontaktcenters adress",
    "ordering_function_email": "beställningsfunktionens adress",
    "hr_export_path": "HR-exportens sökväg",
    "hr_column_map": "HR-exportens kolumner",
    "sync_max_removal_share": "bromsens andel borttagna",
    "sync_max_removal_count": "bromsens antal borttagna",
    "sync_max_shrink_share": "bromsens krympning",
    "approval_deputies": "ersättare för beslut",
    "approval_deadline_days": "tidsfrist för beslut (dagar)",
    "approval_reminder_hours": "påminnelseintervall (timmar)",
    "approval_escalation_days": "dagar till eskalering till chefens chef",
    "admin_email": "administratörens adress",
    "offboarding_window_days": "dagar före anställningens slut som avslutet startar",
    "offboarding_attest_days": "dagar efter sista arbetsdagen för chefens intyg",
}


class MunicipalityError(ValueError):
    """The file of municipalities, or a municipality asked for, cannot be used."""


class MunicipalitySettings(BaseModel):
    """One municipality's own settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str = Field(min_length=1, max_length=200)
    mail_from: EmailStr
    signature: str | None = None  # e.g. "Kommunledningskontoret, Hallsbergs kommun"
    contact_centre_email: EmailStr
    ordering_function_email: EmailStr
    hr_export_path: Path
    hr_column_map: dict[str, str] = Field(default_factory=dict)  # HR's header → ours
    sync_max_removal_share: float = Field(0.05, ge=0, le=1)
    sync_max_removal_count: int = Field(50, ge=0)
    sync_max_shrink_share: float = Field(0.20, ge=0, le=1)
    approval_deputies: tuple[str, ...] = ()  # employee numbers, of this municipality
    approval_deadline_days: float = Field(14.0, gt=0)
    approval_reminder_hours: float = Field(48.0, gt=0)
    # After how long an unanswered ask also goes to the manager's manager (0: never).
    approval_escalation_days: float = Field(7.0, ge=0)
    admin_email: EmailStr  # told when an ask locks after wrong codes
    # Offboarding (§8.1): how long before an employment ends the sync starts it, and how many
    # days after the last working day the manager has to attest the factory reset.
    offboarding_window_days: int = Field(14, ge=0, le=365)
    offboarding_attest_days: int = Field(7, ge=0, le=90)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CODE.match(value):
            raise ValueError(
                "koden skrivs med små bokstäver a–z, siffror och bindestreck (t.ex. 'laxa')"
            )
        return value

    @property
    def deputies(self) -> frozenset[str]:
        """The approval deputies' employee numbers, as written but for spaces around them."""
        return frozenset(d.strip() for d in self.approval_deputies)

    @property
    def sender_name(self) -> str:
        return f"Telefoni – {self.name}"

    @property
    def mail_domain(self) -> str:
        return str(self.mail_from).rsplit("@", 1)[1]

    def matches(self, asked: str) -> bool:
        """Whether ``asked`` names this municipality: its code, or its name (any case, with
        or without "kommun")."""
        words = asked.strip().casefold()
        name = self.name.casefold()
        return words in (self.code, name, name.removesuffix(" kommun"))


def code_from_name(name: str) -> str:
    """A code for a municipality known only by name: "Hallsbergs kommun" → "hallsberg"."""
    base = name.strip().casefold().removesuffix(" kommun")
    if name.strip().casefold().endswith("s kommun"):
        base = base.removesuffix("s")
    text = re.sub(r"[^a-z0-9]+", "-", base.translate(_PLAIN)).strip("-")
    return text[:40] or "kommun"


_PLAIN = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u"})


def from_variables(values: Mapping[str, Any], code: str | None) -> MunicipalitySettings:
    """The one municipality of an installation without a file, from its TELEFONI_* values."""
    fields = {k: values[k] for k in MunicipalitySettings.model_fields if k in values}
    fields["name"] = values["municipality"]
    fields["code"] = code or code_from_name(values["municipality"])
    try:
        return MunicipalitySettings(**fields)
    except ValidationError as exc:
        raise MunicipalityError(_explain(exc, "TELEFONI_MUNICIPALITY", None)) from None


def load_file(path: Path, defaults: Mapping[str, Any]) -> tuple[MunicipalitySettings, ...]:
    """Every municipality of the file, in its order; ``defaults``: the TELEFONI_* values that
    a municipality may leave out. MunicipalityError names the file, the municipality and the
    field of the first thing wrong."""
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MunicipalityError(f"{path}: filen med kommuner finns inte") from None
    except tomllib.TOMLDecodeError as exc:
        raise MunicipalityError(f"{path}: filen går inte att läsa som TOML ({exc})") from None
    unknown = sorted(set(spec) - {"kommun"})
    if unknown:
        raise MunicipalityError(
            f"{path}: okänd tabell {', '.join(map(repr, unknown))}; "
            "varje kommun skrivs som [kommun.<kod>]"
        )
    tables = spec.get("kommun")
    if not isinstance(tables, dict) or not tables:
        raise MunicipalityError(f"{path}: filen nämner ingen kommun; skriv [kommun.<kod>]")
    inherited = {
        k: defaults[k]
        for k in MunicipalitySettings.model_fields
        if k in defaults and k not in REQUIRED_IN_FILE
    }
    found = []
    for code, table in tables.items():
        if not isinstance(table, dict):
            raise MunicipalityError(f"{path}: kommun {code!r} ska vara en tabell, [kommun.{code}]")
        missing = [f for f in REQUIRED_IN_FILE if f not in table]
        if missing:
            raise MunicipalityError(
                f"{path}: kommun {code!r}: fältet {missing[0]!r} ({FIELD_SV[missing[0]]}) "
                "saknas; varje kommun i filen måste ange det"
            )
        if "code" in table:
            raise MunicipalityError(
                f"{path}: kommun {code!r}: fältet 'code' anges inte, koden är tabellens namn"
            )
        if isinstance(table.get("hr_export_path"), str):  # relative: to the file's folder
            table["hr_export_path"] = path.parent / table["hr_export_path"]
        try:
            found.append(MunicipalitySettings(**{**inherited, **table, "code": code}))
        except ValidationError as exc:
            raise MunicipalityError(_explain(exc, str(path), code)) from None
    _refuse_shared(path, found)
    return tuple(found)


def _refuse_shared(path: Path, municipalities: Iterable[MunicipalitySettings]) -> None:
    """Two municipalities may not share a name or an HR export (one would read the other's)."""
    seen: dict[Any, str] = {}
    for m in municipalities:
        for label, value in (
            ("namn", m.name.casefold()),
            ("HR-export", m.hr_export_path.resolve()),
        ):
            other = seen.setdefault((label, value), m.code)
            if other != m.code:
                raise MunicipalityError(
                    f"{path}: kommunerna {other!r} och {m.code!r} har samma {label}; "
                    "varje kommun har sin egen"
                )


def _explain(exc: ValidationError, where: str, code: str | None) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "?"
    label = FIELD_SV.get(str(error["loc"][0]) if error["loc"] else "", "")
    who = f"kommun {code!r}: " if code else ""
    if error["type"] == "extra_forbidden":
        known = ", ".join(sorted(MunicipalitySettings.model_fields.keys() - {"code"}))
        return f"{where}: {who}okänt fält {field!r} (kända fält: {known})"
    return f"{where}: {who}fältet {field!r}{f' ({label})' if label else ''}: {error['msg']}"


def choose(
    municipalities: tuple[MunicipalitySettings, ...], asked: str | None
) -> MunicipalitySettings:
    """The municipality ``asked`` names (code or name); with none asked, the only one there
    is. MunicipalityError says in Swedish which there are."""
    known = ", ".join(f"{m.code} ({m.name})" for m in municipalities)
    if asked is None or not asked.strip():
        if len(municipalities) == 1:
            return municipalities[0]
        raise MunicipalityError(f"ange vilken kommun det gäller (--kommun); här finns {known}")
    for m in municipalities:
        if m.matches(asked):
            return m
    raise MunicipalityError(f"kommunen {asked.strip()!r} finns inte här; här finns {known}")
