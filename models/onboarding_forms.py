"""What people type: the onboarding order form and the approval and delivery forms.

Field titles and descriptions are what the Prefect UI shows, so they are in Swedish; the
identifiers stay English. No form carries a personnummer: people are named by employee number.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from prefect.input import RunInput
from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.register import DeviationReason

CATEGORY_HELP = (
    "§4.1. 1 = arbetar geografiskt flexibelt och behöver vara nåbar utanför ordinarie "
    "arbetstid; 2 = arbetar på kontoret under kontorstid men behöver telefon; 3 = inget behov "
    "av personlig telefon (får inte erbjudas en)."
)

DEVIATION_SV: dict[str, DeviationReason] = {
    "funktionsnedsättning": DeviationReason.ACCESSIBILITY,
    "vatten-, smuts- och stöttålig": DeviationReason.RUGGED,
}
DEVIATION_TEXT = {v: k for k, v in DEVIATION_SV.items()}


class AppRequest(BaseModel):
    """A paid app asked for with the phone (§4.2.4)."""

    model_config = ConfigDict(title="Betald app")

    name: str = Field(title="Appens namn", min_length=1, max_length=100)
    monthly_cost_sek: Decimal = Field(title="Kostnad, kr per månad", ge=0, max_digits=8)
    why: str = Field(
        title="Varför är appen ett arbetsverktyg?",
        description="Kommunen betalar bara för appar som är arbetsverktyg och som chefen "
        "själv godkänner (§4.2.4).",
        max_length=500,
    )


class OrderRequest(BaseModel):
    """One onboarding order as the orderer fills it in."""

    model_config = ConfigDict(title="Beställning av telefon", frozen=True)

    employee_number: str = Field(
        title="Anställningsnummer",
        description="Den anställda som ska ha telefonen (som i HR-systemet).",
        min_length=1,
        max_length=20,
    )
    need_category: Literal[1, 2, 3] = Field(title="Behovskategori", description=CATEGORY_HELP)
    phone_model: str = Field(
        title="Telefonmodell",
        description="Namnet som i arbetsgivarens katalog. Annan modell än standardmodellen "
        "kräver skäl (§4.1.1).",
        min_length=1,
        max_length=200,
    )
    deviation_reason: Literal["funktionsnedsättning", "vatten-, smuts- och stöttålig"] | None = (
        Field(None, title="Skäl till avvikande modell", description="§4.1.1")
    )
    deviation_note: str | None = Field(None, title="Kommentar till avvikelsen", max_length=500)
    headset: bool = Field(
        True,
        title="Headset",
        description="Bör beställas med telefonen av arbetsmiljö- och trafiksäkerhetsskäl (§4.2.1).",
    )
    subscription_option: str = Field(
        title="Abonnemangsform", description="Koden i arbetsgivarens utbud.", max_length=20
    )
    data: bool = Field(
        True, title="Dataabonnemang", description="Varje smartphone ska ha dataabonnemang (§4.2.2)."
    )
    referral: bool = Field(
        True,
        title="Hänvisning med kalenderkoppling",
        description="Ska finnas på varje personbundet abonnemang (§4.2.3); kan inte väljas bort.",
    )
    apps: list[AppRequest] = Field(default_factory=list, title="Betalda appar")
    requested_by: str = Field(
        title="Beställare", description="Ditt anställningsnummer eller användar-id.", max_length=50
    )
    wanted_by: date | None = Field(None, title="Önskat leveransdatum")
    replacement: bool = Field(
        False,
        title="Ersätter befintligt abonnemang",
        description="Markera om den anställda redan har ett personbundet abonnemang som "
        "ska ersättas.",
    )

    @field_validator("employee_number", "phone_model", "subscription_option", "requested_by")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @property
    def deviation(self) -> DeviationReason | None:
        return DEVIATION_SV[self.deviation_reason] if self.deviation_reason else None


class ApprovalDecision(RunInput):
    """The manager's decision on one order or a batch."""

    model_config = ConfigDict(title="Beslut om beställning")

    decision: Literal["godkänn", "avslå"] = Field(title="Beslut")
    decided_by: str = Field(
        title="Ditt anställningsnummer",
        description="Bara den anställdas chef (eller chefens chef, när beställningen har gått "
        "vidare till hen) eller en utsedd ersättare i den anställdas kommun kan besluta.",
        max_length=20,
    )
    code: str = Field(
        "",
        title="Engångskod",
        description="Koden i e-postmeddelandet du fick om beställningen (8 siffror). Har du "
        "ingen kod, t.ex. som ersättare: lämna fältet tomt så skickas en kod till din "
        "e-postadress i personalregistret.",
        max_length=20,
    )
    approved_apps: list[str] = Field(
        default_factory=list,
        title="Godkända betalda appar",
        description="Skriv namnet på varje app du godkänner som arbetsverktyg (§4.2.4). "
        "Appar som inte står här beställs inte.",
    )
    comment: str = Field("", title="Kommentar", max_length=1000)


class DeliveryInput(RunInput):
    """What arrived from the operator: number, IMEI and SIM card."""

    model_config = ConfigDict(title="Registrera leverans")

    reference: str | None = Field(
        None,
        title="Beställning",
        description="Referensen TEL-…; behövs bara i en samlad beställning.",
    )
    number: str | None = Field(None, title="Telefonnummer", description="T.ex. +46701234567")
    imei: str | None = Field(None, title="IMEI", description="15 siffror")
    sim: str | None = Field(None, title="SIM-kortsnummer (ICCID)", description="19–20 siffror")
