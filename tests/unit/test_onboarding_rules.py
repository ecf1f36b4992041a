"""The guideline's rules for an onboarding order: for each rule an allowed and a refused case."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from models.onboarding_rules import (
    GuidelineViolation,
    ModelFacts,
    OptionFacts,
    OrderFacts,
    PaidApp,
    Services,
    Severity,
    check,
    decide_apps,
    has_data,
    may_decide,
    placed_services,
    someone_may_decide,
    with_required_services,
)

STANDARD = ModelFacts("Nordfon S", is_standard=True, is_smartphone=True)
RUGGED = ModelFacts("Nordfon Robust", is_standard=False, is_smartphone=True)
BASIC = ModelFacts("Nordfon Enkel", is_standard=True, is_smartphone=False)
VOICE_ONLY = OptionFacts("TAL", includes_data=False)
WITH_DATA = OptionFacts("DATA20", includes_data=True)
APP = PaidApp("Ritverktyg Pro", Decimal("49"), "ritningar ute på byggarbetsplatsen")

GOOD = OrderFacts(
    need_category=2, model=STANDARD, option=WITH_DATA, headset=True, data=True, referral=None
)


def rules_of(order: OrderFacts, severity: Severity) -> set[str]:
    return {f.rule for f in check(order).findings if f.severity is severity}


# (rule, allowed order, order the rule refuses or warns about, the expected severity)
TABLE = [
    ("§4.1", GOOD, replace(GOOD, need_category=3), Severity.REFUSAL),
    ("§4.1", replace(GOOD, need_category=1), replace(GOOD, need_category=4), Severity.REFUSAL),
    (
        "§4.1",
        replace(GOOD, registered_category=2),
        replace(GOOD, registered_category=3),  # HR says otherwise: the approver is told
        Severity.WARNING,
    ),
    ("§4.2.2", GOOD, replace(GOOD, option=VOICE_ONLY, data=False), Severity.REFUSAL),
    (
        "§4.2.2",
        replace(GOOD, model=BASIC, option=VOICE_ONLY, data=False),  # not a smartphone
        replace(GOOD, model=STANDARD, option=VOICE_ONLY, data=False),
        Severity.REFUSAL,
    ),
    ("§4.2.3", GOOD, replace(GOOD, referral=False), Severity.REFUSAL),
    ("§4.2.1", GOOD, replace(GOOD, headset=False), Severity.WARNING),
    (
        "§4.2.1",
        replace(GOOD, headset=False, model=replace(STANDARD, includes_headset=True)),
        replace(GOOD, headset=False),
        Severity.WARNING,
    ),
    (
        "§4.1.1",
        replace(GOOD, model=RUGGED, deviation_reason="rugged"),
        replace(GOOD, model=RUGGED, deviation_reason=None),
        Severity.REFUSAL,
    ),
    (
        "§4.1.1",
        replace(GOOD, model=RUGGED, deviation_reason="accessibility"),
        replace(GOOD, model=RUGGED, deviation_reason="färgen"),
        Severity.REFUSAL,
    ),
    (
        "§4.2.4",
        replace(GOOD, apps=(APP,)),  # asked for with a reason: goes to the manager
        replace(GOOD, apps=(replace(APP, why=" "),)),
        Severity.REFUSAL,
    ),
    (
        "§4",
        replace(GOOD, holds_active_personal_subscription=True, replacement=True),
        replace(GOOD, holds_active_personal_subscription=True),
        Severity.REFUSAL,
    ),
    ("§4", GOOD, replace(GOOD, model=None, catalogue=("Nordfon S",)), Severity.REFUSAL),
    ("§4", GOOD, replace(GOOD, option=replace(WITH_DATA, available=False)), Severity.REFUSAL),
    ("§4", GOOD, replace(GOOD, employee_active=False), Severity.REFUSAL),
    ("§4", GOOD, replace(GOOD, has_approver=False), Severity.REFUSAL),
    ("§4", GOOD, replace(GOOD, other_manager_than_batch=True), Severity.REFUSAL),
]


@pytest.mark.parametrize(
    ("rule", "allowed", "refused", "severity"),
    TABLE,
    ids=[f"{row[0]}-{i}" for i, row in enumerate(TABLE)],
)
def test_rule_allows_and_refuses(
    rule: str, allowed: OrderFacts, refused: OrderFacts, severity: Severity
) -> None:
    assert rule not in rules_of(allowed, severity)
    assert check(allowed).allowed or severity is not Severity.REFUSAL
    assert rule in rules_of(refused, severity)
    if severity is Severity.REFUSAL:
        verdict = check(refused)
        assert not verdict.allowed
        with pytest.raises(GuidelineViolation) as caught:
            verdict.raise_if_refused()
        assert rule in caught.value.rules
        assert rule in str(caught.value)  # the § is in the message people read


def test_a_good_order_is_allowed_with_referral_noted() -> None:
    verdict = check(GOOD)
    assert verdict.allowed
    assert [f.rule for f in verdict.notes] == ["§4.2.3"]
    assert with_required_services(GOOD).referral is True


def test_refusals_explain_in_swedish() -> None:
    verdict = check(replace(GOOD, need_category=3))
    (refusal,) = verdict.refusals
    assert "får inte erbjudas en personlig telefon" in refusal.message


def test_unknown_model_lists_the_catalogue() -> None:
    verdict = check(replace(GOOD, model=None, catalogue=("Nordfon S", "Nordfon Robust")))
    assert "Nordfon S, Nordfon Robust" in verdict.refusals[0].message


def test_paid_apps_need_the_managers_own_approval() -> None:
    other = PaidApp("Kartor Plus", Decimal("19"), "navigering i hemtjänsten")
    kept, notes = decide_apps([APP, other], {"Ritverktyg Pro": True})
    assert kept == (APP,)
    assert [n.rule for n in notes] == ["§4.2.4"]
    assert "Kartor Plus" in notes[0].message
    kept, notes = decide_apps([APP], {})
    assert kept == () and len(notes) == 1


def test_in_a_batch_someone_with_another_manager_is_refused_first() -> None:
    verdict = check(replace(GOOD, other_manager_than_batch=True, need_category=3))
    assert [f.rule for f in verdict.refusals] == ["§4", "§4.1"]
    assert "annan chef" in verdict.findings[0].message


@pytest.mark.parametrize(
    ("data", "option", "expected"),
    [
        (True, VOICE_ONLY, True),  # ordered with the phone
        (False, WITH_DATA, True),  # part of the option
        (False, VOICE_ONLY, False),
        (False, None, False),  # no option offered: nothing to carry data
    ],
)
def test_data_as_ordered_or_in_the_option(
    data: bool, option: OptionFacts | None, expected: bool
) -> None:
    order = replace(GOOD, data=data, option=option)
    assert has_data(order) is expected
    assert placed_services(order).data is expected


@pytest.mark.parametrize("asked", [None, True, False])
def test_referral_with_the_calendar_is_always_placed(asked: bool | None) -> None:
    assert placed_services(replace(GOOD, referral=asked)) == Services(
        data=True, referral=True, referral_calendar=True
    )


@pytest.mark.parametrize(
    ("approvers", "decided_by", "expected"),
    [
        (["E2"], "E2", True),
        (["E2", "E2"], " E2 ", True),  # typed with spaces
        (["E2", "E3"], "E2", False),  # not the manager of every order
        (["E2"], "E3", False),
        ([None], "E2", False),  # no manager in the register
        ([], "E2", False),  # nothing waits
        (["E2"], "DEP-1", True),  # a designated deputy
        ([None], " DEP-1", True),
        (["E2"], "", False),
    ],
)
def test_only_the_manager_or_a_deputy_decides(
    approvers: list[str | None], decided_by: str, expected: bool
) -> None:
    assert may_decide(approvers, decided_by, frozenset({"DEP-1"})) is expected


@pytest.mark.parametrize(
    ("has_manager", "deputies", "expected"),
    [(True, (), True), (False, ("DEP-1",), True), (False, (), False), (True, ("DEP-1",), True)],
)
def test_someone_may_decide_with_a_manager_or_a_deputy(
    has_manager: bool, deputies: tuple[str, ...], expected: bool
) -> None:
    assert someone_may_decide(has_manager, deputies) is expected
