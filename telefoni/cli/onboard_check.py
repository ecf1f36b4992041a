"""What `telefoni onboard` checks in the register before it starts a run.

The employee must be the municipality's, the model and subscription option in its catalogue
(the shared one or its own), and the order must pass the guideline's rules that need nothing
but the order, the employee and the catalogue (`models.onboarding_rules.check`, as the run
applies them: a category-3 order is refused by §4.1 here as there). What the run alone can
know (the manager, the subscriptions the employee holds) it still checks. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.onboarding_forms import OrderRequest
from models.onboarding_rules import ModelFacts, OptionFacts, OrderFacts, PaidApp, check
from models.register import Employee, Municipality, PhoneModel, SubscriptionOption
from tasks.onboarding.requested import shown_number


@dataclass(frozen=True)
class Precheck:
    """The orders as the run should get them (model and option spelled as the catalogue
    spells them: the run form offers exactly those), the employees' names by number, and
    what stops the orders (Swedish lines; none: start the run)."""

    orders: list[OrderRequest]
    names: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def precheck(
    session: Session, municipality: str, requests: Sequence[OrderRequest], *, today: date
) -> Precheck:
    """Hold `requests` against the register of `municipality` (its code) and the rules."""
    mid = session.scalar(select(Municipality.id).where(Municipality.code == municipality))
    numbers = sorted({r.employee_number for r in requests})
    employees = {
        e.employee_number: e
        for e in session.scalars(
            select(Employee).where(
                Employee.municipality_id == mid, Employee.employee_number.in_(numbers)
            )
        )
    }
    models = {
        m.name.casefold(): m
        for m in session.scalars(
            select(PhoneModel).where(
                or_(PhoneModel.municipality_id.is_(None), PhoneModel.municipality_id == mid)
            )
        )
    }
    options = {
        o.code.casefold(): o
        for o in session.scalars(
            select(SubscriptionOption).where(
                or_(
                    SubscriptionOption.municipality_id.is_(None),
                    SubscriptionOption.municipality_id == mid,
                )
            )
        )
    }
    offered_models = tuple(sorted(m.name for m in models.values() if m.available))
    offered_options = tuple(sorted(o.code for o in options.values() if o.available))
    orders, problems = [], []
    several = len(requests) > 1
    for request in requests:
        prefix = f"{shown_number(request.employee_number)}: " if several else ""
        employee = employees.get(request.employee_number)
        if employee is None:
            number = shown_number(request.employee_number)
            problems.append(f"{prefix}anställningsnumret {number} finns inte i registret")
            continue
        model = models.get(request.phone_model.casefold())
        option = options.get(request.subscription_option.casefold())
        facts = replace(
            _facts(request, employee, model, option, today=today),
            catalogue=offered_models,
            offered_options=offered_options,
        )
        problems += [f"{prefix}{finding}" for finding in check(facts).refusals]
        orders.append(
            request.model_copy(
                update={
                    "phone_model": model.name if model else request.phone_model,
                    "subscription_option": option.code if option else request.subscription_option,
                }
            )
        )
    names = {n: e.name for n, e in employees.items()}
    return Precheck(orders, names, problems)


def _facts(
    request: OrderRequest,
    employee: Employee,
    model: PhoneModel | None,
    option: SubscriptionOption | None,
    *,
    today: date,
) -> OrderFacts:
    """The order as the rules see it, with what the register says of the employee."""
    ended = employee.left_at is not None or (
        employee.employment_end is not None and employee.employment_end < today
    )
    deviation = request.deviation
    return OrderFacts(
        need_category=request.need_category,
        model=ModelFacts(
            model.name,
            model.is_standard,
            model.is_smartphone,
            model.includes_headset,
            model.available,
        )
        if model
        else None,
        option=OptionFacts(option.code, option.includes_data, option.available) if option else None,
        deviation_reason=deviation.value if deviation else None,
        headset=request.headset,
        data=request.data,
        referral=request.referral,
        apps=tuple(PaidApp(a.name, a.monthly_cost_sek, a.why) for a in request.apps),
        replacement=request.replacement,
        employee_active=not ended,
        registered_category=employee.need_category,
    )
