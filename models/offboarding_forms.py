"""What people type when an employment ends: HR's start, the manager's confirmation of the
sync's plan, and the attestations of the checklist.

Titles and help are Swedish (the Prefect UI shows them); as in `models.onboarding_forms`, no
field is optional by being None (the UI would show a type switch), choices are words, and no
form carries a personnummer: people are named by employee number, phones by number or IMEI.
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal

from prefect.input import RunInput
from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.offboarding import DISPOSITION_SV, Disposition
from models.offboarding_rules import parse_disposition

DispositionText = Literal["sägs upp", "lämnas över till efterträdaren", "privat övertagande"]
CHOICES: Final[dict[str, Disposition]] = {v: k for k, v in DISPOSITION_SV.items()}
assert set(CHOICES) == set(DispositionText.__args__)  # type: ignore[attr-defined]

WHAT_HELP = (
    "Abonnemangets telefonnummer (t.ex. 070-123 45 67) eller, för en telefon utan abonnemang, "
    "dess IMEI (15 siffror)."
)
DISPOSITION_HELP = (
    "Sägs upp: abonnemanget avslutas hos operatören och telefonen går tillbaka till lagret. "
    "Lämnas över: nummer och telefon går till efterträdaren när chefen har intygat att "
    "telefonen är fabriksåterställd (§8.1). Privat övertagande: den anställda tar över "
    "abonnemanget och betalar själv avgifter och kostnader (§8.2)."
)


class DispositionChoice(BaseModel):
    """What becomes of one of the leaver's numbers or phones."""

    model_config = ConfigDict(
        title="Abonnemang eller telefon",
        frozen=True,
        json_schema_extra={"description": "Det som inte står med här sägs upp."},
    )

    number: str = Field(title="Nummer eller IMEI", description=WHAT_HELP, max_length=25)
    disposition: DispositionText = Field(title="Vad som händer", description=DISPOSITION_HELP)

    @property
    def chosen(self) -> Disposition:
        return CHOICES[self.disposition]


class OffboardingRequest(BaseModel):
    """HR's start of an offboarding: who leaves, when, who takes over, what becomes of what."""

    model_config = ConfigDict(
        title="Avslut av anställning",
        frozen=True,
        json_schema_extra={
            "description": "När en anställning slutar: vad som händer med den anställdas "
            "abonnemang och telefoner (§7.2, §8.1, §8.2)."
        },
    )

    employee_number: str = Field(
        title="Anställningsnummer",
        description="Den anställda som slutar (som i HR-systemet).",
        min_length=1,
        max_length=20,
    )
    last_day: date = Field(
        title="Sista arbetsdag",
        description="ÅÅÅÅ-MM-DD. Det som ska göras när den anställda lämnar tillbaka "
        "telefonen väntar till den dagen; flyttas dagen, starta avslutet igen med den nya.",
    )
    successor: str = Field(
        "",
        title="Efterträdare",
        description="Anställningsnummer för den som tar över nummer och telefon. Tomt = ingen.",
        max_length=20,
    )
    dispositions: list[DispositionChoice] = Field(
        default_factory=list,
        title="Abonnemang och telefoner",
        description="Det som ska lämnas över eller tas över privat. Det som inte står med "
        "här sägs upp.",
    )
    started_by: str = Field(
        title="Startat av",
        description="Ditt anställningsnummer eller användar-id (hamnar i händelseloggen).",
        min_length=1,
        max_length=50,
    )

    @field_validator("employee_number", "successor", "started_by")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    def wanted(self) -> dict[str, Disposition]:
        """Number or IMEI, as written → what becomes of it."""
        return {c.number.strip(): c.chosen for c in self.dispositions if c.number.strip()}


def dispositions_from_text(pairs: list[tuple[str, str]]) -> list[DispositionChoice]:
    """(number, disposition as written) → choices, for the terminal's options."""
    return [
        DispositionChoice(number=n, disposition=DISPOSITION_SV[parse_disposition(d)])
        for n, d in pairs
    ]


class PlanChange(BaseModel):
    """A change of the sync's plan for one number or phone."""

    model_config = ConfigDict(title="Ändring", frozen=True)

    number: str = Field(title="Nummer eller IMEI", description=WHAT_HELP, max_length=25)
    disposition: DispositionText = Field(title="Vad som händer", description=DISPOSITION_HELP)
    successor: str = Field(
        "",
        title="Efterträdare",
        description="Anställningsnummer, om numret lämnas över. Tomt = ingen.",
        max_length=20,
    )


class PlanConfirmation(RunInput):
    """The manager confirms what the sync planned (everything terminated) or changes it."""

    model_config = ConfigDict(title="Bekräfta avslutet")

    decision: Literal["bekräfta", "ändra"] = Field(
        title="Beslut",
        description="Bekräfta: allt sägs upp som planerat. Ändra: det som står under "
        "Ändringar görs i stället; resten sägs upp.",
    )
    changes: list[PlanChange] = Field(default_factory=list, title="Ändringar")
    decided_by: str = Field(
        title="Ditt anställningsnummer",
        description="Den anställdas chef, chefens chef när frågan har gått vidare, eller en "
        "utsedd ersättare.",
        max_length=20,
    )
    code: str = Field(
        "",
        title="Engångskod",
        description="Koden i e-postmeddelandet du fick (8 siffror). Tomt: en ny kod skickas "
        "till din e-postadress i personalregistret.",
        max_length=20,
    )
    comment: str = Field("", title="Kommentar", max_length=1000)


class Attestation(RunInput):
    """One person attests what is theirs on the checklist (all of it at once)."""

    model_config = ConfigDict(title="Intyga checklistan")

    attested_by: str = Field(
        title="Ditt anställningsnummer",
        description="Den anställda intygar att lösenkoden är återställd (§7.2); chefen att "
        "telefonen är återlämnad och fabriksåterställd (§8.1).",
        max_length=20,
    )
    code: str = Field(
        "",
        title="Engångskod",
        description="Koden i e-postmeddelandet om checklistan (8 siffror). Tomt: en ny kod "
        "skickas till din e-postadress i personalregistret.",
        max_length=20,
    )
    scrapped: list[str] = Field(
        default_factory=list,
        title="Kasserade telefoner",
        description="IMEI för telefoner som inte går tillbaka till lagret utan kasseras "
        "(chefen eller IT). Tomt = alla till lagret.",
    )
    comment: str = Field("", title="Kommentar", max_length=1000)


class LastDayWait(RunInput):
    """Nothing to fill in: the run goes on by itself on the last working day."""

    model_config = ConfigDict(title="Väntar på sista arbetsdagen")

    note: str = Field(
        "",
        title="Anteckning",
        description="Avslutet fortsätter av sig självt på sista arbetsdagen. Återupptas "
        "körningen tidigare, väntar den igen.",
        max_length=500,
    )


class TerminationConfirmed(RunInput):
    """The ordering function's answer, registered by a person (the e-mail channel)."""

    model_config = ConfigDict(title="Registrera bekräftad uppsägning")

    numbers: list[str] = Field(
        default_factory=list,
        title="Bekräftade nummer",
        description="Numren som operatören har bekräftat som uppsagda.",
    )
    confirmed_by: str = Field(
        title="Ditt anställningsnummer eller användar-id", min_length=1, max_length=50
    )
