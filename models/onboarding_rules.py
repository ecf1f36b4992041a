"""The guideline's rules for an onboarding order (§4, §4.1.1, §4.2.1–§4.2.4), as pure functions.

Nothing here touches a database, a network or Prefect: given the facts of an order, `check`
answers whether it may go to the manager, which § says no if not, and what the approver
should be warned about. `may_decide` says who may take the decision, `decide_apps` applies the
manager's per-app decisions (§4.2.4), and `placed_services` what the subscription is placed
and registered with (§4.2.2, §4.2.3).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal


class Severity(enum.StrEnum):
    REFUSAL = "refusal"  # the order cannot go on
    WARNING = "warning"  # shown to the approver, who may still approve
    NOTE = "note"  # something the system did for the orderer, e.g. added referral


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict on an order, in Swedish, citing its §."""

    rule: str
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class GuidelineViolation(ValueError):
    """The order breaks the guideline; `findings` name each § it breaks."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("; ".join(str(f) for f in self.findings))

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(f.rule for f in self.findings)


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """A phone model as the catalogue describes it."""

    name: str
    is_standard: bool
    is_smartphone: bool
    includes_headset: bool = False
    available: bool = True


@dataclass(frozen=True, slots=True)
class OptionFacts:
    """A subscription option as the employer offers it."""

    code: str
    includes_data: bool
    available: bool = True


@dataclass(frozen=True, slots=True)
class PaidApp:
    """A paid app asked for on the order; the municipality pays only for a work tool (§4.2.4)."""

    name: str
    monthly_cost_sek: Decimal
    why: str  # why it is a work tool


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """Everything the rules need to know about one order."""

    need_category: int
    model: ModelFacts | None  # None: not in the catalogue
    option: OptionFacts | None  # None: not offered
    deviation_reason: str | None = None  # "accessibility" | "rugged" (§4.1.1)
    headset: bool = False
    data: bool = False  # a data subscription ordered with the phone
    referral: bool | None = None  # None: not asked; False: asked to leave it out (§4.2.3)
    apps: tuple[PaidApp, ...] = ()
    replacement: bool = False
    holds_active_personal_subscription: bool = False
    employee_active: bool = True
    has_approver: bool = True
    registered_category: int | None = None  # what HR has on record for the person
    # In a batch: the employee's manager is not the batch's (its first order's) manager.
    other_manager_than_batch: bool = False
    catalogue: tuple[str, ...] = field(default=(), compare=False)  # model names, for the message
    offered_options: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Verdict:
    findings: tuple[Finding, ...]

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.REFUSAL)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def notes(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.NOTE)

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def raise_if_refused(self) -> None:
        if self.refusals:
            raise GuidelineViolation(self.refusals)


def _refuse(rule: str, message: str) -> Finding:
    return Finding(rule, Severity.REFUSAL, message)


def batch_rule(order: OrderFacts) -> list[Finding]:
    """§4: the choice is made with the nearest manager; a batch goes to one manager, who decides
    on all of it."""
    if order.other_manager_than_batch:
        return [
            _refuse(
                "§4",
                "den anställda har en annan chef än de övriga i den samlade beställningen; "
                "beställ i en egen",
            )
        ]
    return []


def need_category_rule(order: OrderFacts) -> list[Finding]:
    """§4.1: category 3 has no need of a personal phone and must not be offered one."""
    if order.need_category not in (1, 2, 3):
        return [
            _refuse(
                "§4.1", f"behovskategori måste vara 1, 2 eller 3 (angiven: {order.need_category})"
            )
        ]
    if order.need_category == 3:
        return [
            _refuse(
                "§4.1",
                "behovskategori 3 (inget behov av personlig telefon) får inte erbjudas "
                "en personlig telefon",
            )
        ]
    if order.registered_category not in (None, order.need_category):
        return [
            Finding(
                "§4.1",
                Severity.WARNING,
                f"HR har behovskategori {order.registered_category} registrerad för den "
                f"anställda, beställningen anger {order.need_category}",
            )
        ]
    return []


def catalogue_rule(order: OrderFacts) -> list[Finding]:
    """§4: only models and subscription options the employer offers."""
    found = []
    if order.model is None or not order.model.available:
        offered = ", ".join(order.catalogue) or "–"
        found.append(
            _refuse("§4", f"modellen finns inte i arbetsgivarens katalog (erbjuds: {offered})")
        )
    if order.option is None or not order.option.available:
        offered = ", ".join(order.offered_options) or "–"
        found.append(
            _refuse("§4", f"abonnemangsformen erbjuds inte av arbetsgivaren (erbjuds: {offered})")
        )
    return found


def model_rule(order: OrderFacts) -> list[Finding]:
    """§4.1.1: a model other than the standard one needs a reason (accessibility or rugged)."""
    if order.model is None or order.model.is_standard:
        return []
    if order.deviation_reason not in ("accessibility", "rugged"):
        return [
            _refuse(
                "§4.1.1",
                f"{order.model.name} är inte standardmodellen; avvikande modell kräver skäl: "
                "funktionsnedsättning eller behov av vatten-, smuts- och stöttålig utrustning",
            )
        ]
    return []


def has_data(order: OrderFacts) -> bool:
    """§4.2.2: the subscription carries data: ordered with the phone, or part of the option."""
    return order.data or (order.option is not None and order.option.includes_data)


def data_rule(order: OrderFacts) -> list[Finding]:
    """§4.2.2: every smartphone must have a data subscription."""
    if order.model is None or not order.model.is_smartphone:
        return []
    if not has_data(order):
        return [
            _refuse(
                "§4.2.2",
                f"{order.model.name} är en smartphone; varje smartphone ska ha dataabonnemang",
            )
        ]
    return []


def referral_rule(order: OrderFacts) -> list[Finding]:
    """§4.2.3: referral (hänvisning), calendar-linked, on every personal subscription."""
    if order.referral is False:
        return [
            _refuse(
                "§4.2.3",
                "hänvisning kan inte väljas bort: den ska finnas på varje personbundet "
                "abonnemang, med automatisk hänvisning från kalendern",
            )
        ]
    return [
        Finding(
            "§4.2.3",
            Severity.NOTE,
            "hänvisning med automatisk hänvisning från kalendern läggs till abonnemanget",
        )
    ]


def headset_rule(order: OrderFacts) -> list[Finding]:
    """§4.2.1: a headset should be ordered with the phone when the phone has none."""
    if order.headset or (order.model is not None and order.model.includes_headset):
        return []
    return [
        Finding(
            "§4.2.1",
            Severity.WARNING,
            "inget headset beställs: headset bör beställas med telefonen av "
            "arbetsmiljö- och trafiksäkerhetsskäl",
        )
    ]


def apps_rule(order: OrderFacts) -> list[Finding]:
    """§4.2.4: a paid app is paid for only as a work tool, approved by the manager."""
    found = []
    for app in order.apps:
        if not app.name.strip():
            found.append(_refuse("§4.2.4", "en betald app saknar namn"))
        elif not app.why.strip():
            found.append(
                _refuse(
                    "§4.2.4",
                    f"appen {app.name}: ange varför den är ett arbetsverktyg; kommunen betalar "
                    "bara för appar som är arbetsverktyg",
                )
            )
        elif app.monthly_cost_sek < 0:
            found.append(_refuse("§4.2.4", f"appen {app.name}: kostnaden kan inte vara negativ"))
        else:
            found.append(
                Finding(
                    "§4.2.4",
                    Severity.WARNING,
                    f"appen {app.name} ({app.monthly_cost_sek} kr/mån) beställs bara om chefen "
                    "själv godkänner den",
                )
            )
    return found


def one_phone_rule(order: OrderFacts) -> list[Finding]:
    """§4: the need decides; someone who already holds a personal subscription gets a second only
    as a replacement."""
    if order.holds_active_personal_subscription and not order.replacement:
        return [
            _refuse(
                "§4",
                "den anställda har redan ett aktivt personbundet abonnemang; markera "
                "beställningen som ersättning om den ska ersätta det",
            )
        ]
    return []


def employee_rule(order: OrderFacts) -> list[Finding]:
    """§4: the choice is made with the nearest manager, for someone who works here."""
    found = []
    if not order.employee_active:
        found.append(_refuse("§4", "anställningen har upphört; ingen ny telefon beställs"))
    if not order.has_approver:
        found.append(
            _refuse(
                "§4",
                "den anställda har ingen chef i registret och inga ersättare är utsedda; "
                "ingen kan godkänna beställningen",
            )
        )
    return found


RULES = (
    batch_rule,
    employee_rule,
    need_category_rule,
    catalogue_rule,
    model_rule,
    data_rule,
    referral_rule,
    headset_rule,
    apps_rule,
    one_phone_rule,
)


def check(order: OrderFacts) -> Verdict:
    """Every rule's findings on one order, refusals first."""
    findings = [f for rule in RULES for f in rule(order)]
    order_of = {Severity.REFUSAL: 0, Severity.WARNING: 1, Severity.NOTE: 2}
    return Verdict(tuple(sorted(findings, key=lambda f: order_of[f.severity])))


def decide_apps(
    apps: Sequence[PaidApp], approved_by_manager: Mapping[str, bool]
) -> tuple[tuple[PaidApp, ...], tuple[Finding, ...]]:
    """§4.2.4: the apps the manager approved, and a note for each that is not ordered."""
    kept, notes = [], []
    for app in apps:
        if approved_by_manager.get(app.name) is True:
            kept.append(app)
        else:
            notes.append(
                Finding(
                    "§4.2.4",
                    Severity.NOTE,
                    f"appen {app.name} beställs inte: chefen har inte godkänt den",
                )
            )
    return tuple(kept), tuple(notes)


def may_decide(approvers: Sequence[str | None], decided_by: str, deputies: Collection[str]) -> bool:
    """§4: only the employees' nearest manager decides on the waiting orders (the approver of
    every one of them, by employee number; None: it has none), or a designated deputy."""
    who = decided_by.strip()
    if who in deputies:
        return True
    return bool(approvers) and all(approver == who for approver in approvers)


def someone_may_decide(has_manager: bool, deputies: Collection[str]) -> bool:
    """§4: an order can be decided on when the employee has a manager or a deputy is named."""
    return has_manager or bool(deputies)


def with_required_services(order: OrderFacts) -> OrderFacts:
    """The order as it is placed: referral always on (§4.2.3)."""
    return replace(order, referral=True)


@dataclass(frozen=True, slots=True)
class Services:
    """What a personal subscription is placed with at the operator and registered with."""

    data: bool  # §4.2.2
    referral: bool  # §4.2.3
    referral_calendar: bool  # §4.2.3: booked meetings in the calendar refer calls by themselves


def placed_services(order: OrderFacts) -> Services:
    """The services of the order as it is placed: data as ordered or in the option (§4.2.2);
    referral, linked to the calendar, whatever the order said (§4.2.3)."""
    placed = with_required_services(order)
    referral = placed.referral is True
    return Services(data=has_data(placed), referral=referral, referral_calendar=referral)
