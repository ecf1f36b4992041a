"""What people type: the onboarding order form and the approval and delivery forms.

Field titles and descriptions are what the Prefect UI shows, so they are in Swedish; the
identifiers stay English. No form carries a personnummer: people are named by employee number.

Prefect's UI draws a field whose schema is `anyOf` a type and null as a switch between the two
types, and shows each choice of an `enum` as its value (it has no title per choice). So no
field of the order form is optional by being None: an optional field has a default that says
"none" (an empty text, "ingen avvikelse"), and a choice that people should read as words is
a word: the need category is chosen as "2 – arbetar på kontoret …" and read back as 2.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from prefect.input import RunInput
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from models.register import DeviationReason

CATEGORY_HELP = (
    "§4.1. 1 = arbetar geografiskt flexibelt och behöver vara nåbar utanför ordinarie "
    "arbetstid; 2 = arbetar på kontoret under kontorstid men behöver telefon; 3 = inget behov "
    "av personlig telefon (får inte erbjudas en)."
)
# The need categories (§4.1) as the form offers them: the digit first, then its words.
CATEGORY_CHOICES: Final[dict[int, str]] = {
    1: "1 – arbetar geografiskt flexibelt och behöver vara nåbar utanför arbetstid",
    2: "2 – arbetar på kontoret under kontorstid men behöver telefon",
    3: "3 – inget behov av personlig telefon (får inte erbjudas en)",
}

NO_DEVIATION: Final = "ingen avvikelse"
DEVIATION_SV: dict[str, DeviationReason] = {
    "funktionsnedsättning": DeviationReason.ACCESSIBILITY,
    "vatten-, smuts- och stöttålig": DeviationReason.RUGGED,
}
DEVIATION_TEXT = {v: k for k, v in DEVIATION_SV.items()}


def _category(value: object) -> object:
    """2, "2" or "2 – arbetar på kontoret …" → 2; anything else as it is (refused below)."""
    if isinstance(value, str):
        head = value.split("–", 1)[0].strip()
        if head.isdigit():
            return int(head)
    return value


NeedCategory = Annotated[
    Literal[1, 2, 3],
    BeforeValidator(_category),
    PlainSerializer(lambda n: CATEGORY_CHOICES[n], return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "enum": list(CATEGORY_CHOICES.values())}),
]
# Kronor as a number in the form (pydantic's Decimal schema is `anyOf` number and text, which
# the UI would show as a type switch); exact in the program.
Kronor = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0}),
]
DATE_PATTERN: Final = r"^(\d{4}-\d{2}-\d{2})?$"


class AppRequest(BaseModel):
    """A paid app asked for with the phone (§4.2.4)."""

    model_config = ConfigDict(
        title="Betald app",
        json_schema_extra={"description": "En betald app som beställs med telefonen (§4.2.4)."},
    )

    name: str = Field(
        title="Appens namn", description="Som i appbutiken.", min_length=1, max_length=100
    )
    monthly_cost_sek: Kronor = Field(
        title="Kostnad, kr per månad",
        description="Vad appen kostar kommunen per månad.",
        ge=0,
        max_digits=8,
    )
    why: str = Field(
        title="Varför är appen ett arbetsverktyg?",
        description="Kommunen betalar bara för appar som är arbetsverktyg och som chefen "
        "själv godkänner (§4.2.4).",
        max_length=500,
    )


class OrderRequest(BaseModel):
    """One onboarding order as the orderer fills it in."""

    model_config = ConfigDict(
        title="Beställning av telefon",
        frozen=True,
        json_schema_extra={
            "description": "Vem som ska ha telefonen, vad som beställs och varför (§4)."
        },
    )

    employee_number: str = Field(
        title="Anställningsnummer",
        description="Den anställda som ska ha telefonen (som i HR-systemet).",
        min_length=1,
        max_length=20,
    )
    need_category: NeedCategory = Field(title="Behovskategori", description=CATEGORY_HELP)
    phone_model: str = Field(
        title="Telefonmodell",
        description="Namnet som i arbetsgivarens katalog. Annan modell än standardmodellen "
        "kräver skäl (§4.1.1).",
        min_length=1,
        max_length=200,
    )
    deviation_reason: Literal[
        "ingen avvikelse", "funktionsnedsättning", "vatten-, smuts- och stöttålig"
    ] = Field(
        NO_DEVIATION,
        title="Skäl till avvikande modell",
        description="Bara för en annan modell än standardmodellen (§4.1.1).",
    )
    deviation_note: str = Field(
        "",
        title="Kommentar till avvikelsen",
        description="Tomt om modellen är standardmodellen.",
        max_length=500,
    )
    headset: bool = Field(
        True,
        title="Headset",
        description="Bör beställas med telefonen av arbetsmiljö- och trafiksäkerhetsskäl (§4.2.1).",
    )
    subscription_option: str = Field(
        title="Abonnemangsform",
        description="Koden i arbetsgivarens utbud.",
        min_length=1,
        max_length=20,
    )
    data: bool = Field(
        True, title="Dataabonnemang", description="Varje smartphone ska ha dataabonnemang (§4.2.2)."
    )
    referral: bool = Field(
        True,
        title="Hänvisning med kalenderkoppling",
        description="Ska finnas på varje personbundet abonnemang (§4.2.3); kan inte väljas bort.",
    )
    apps: list[AppRequest] = Field(
        default_factory=list,
        title="Betalda appar",
        description="Bara appar som är arbetsverktyg; chefen godkänner varje app (§4.2.4).",
    )
    requested_by: str = Field(
        title="Beställare",
        description="Ditt anställningsnummer eller användar-id.",
        min_length=1,
        max_length=50,
    )
    wanted_by: str = Field(
        "",
        title="Önskat leveransdatum",
        description="ÅÅÅÅ-MM-DD. Tomt = snarast.",
        json_schema_extra={"pattern": DATE_PATTERN},
    )
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

    @field_validator("deviation_reason", "deviation_note", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info: Any) -> Any:
        """Nothing given (None, empty): no deviation, no note."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return NO_DEVIATION if info.field_name == "deviation_reason" else ""
        return value

    @field_validator("wanted_by", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> str:
        """A date as ÅÅÅÅ-MM-DD, or empty for as soon as possible (never the value in the
        message: a wrong column could hold a personnummer)."""
        if value is None:
            return ""
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).strip()
        if not text:
            return ""
        try:
            return date.fromisoformat(text).isoformat() if len(text) == 10 else _bad_date()
        except ValueError:
            return _bad_date()

    @property
    def deviation(self) -> DeviationReason | None:
        """The reason for another model than the standard one; None: no deviation."""
        return DEVIATION_SV.get(self.deviation_reason)

    @property
    def wanted_date(self) -> date | None:
        """The wanted delivery date; None: as soon as possible."""
        return date.fromisoformat(self.wanted_by) if self.wanted_by else None


def _bad_date() -> str:
    raise PydanticCustomError("date_parsing", "måste vara ett datum som ÅÅÅÅ-MM-DD")


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
    """What arrived from the operator for one order: number, IMEI and SIM card (all empty:
    nothing typed, the run looks again)."""

    model_config = ConfigDict(
        title="Registrera leverans",
        json_schema_extra={"description": "Det som kom från operatören för beställningen."},
    )

    number: str = Field("", title="Telefonnummer", description="T.ex. +46701234567", max_length=20)
    imei: str = Field("", title="IMEI", description="15 siffror", max_length=20)
    sim: str = Field(
        "", title="SIM-kortsnummer (ICCID)", description="19–20 siffror", max_length=25
    )
