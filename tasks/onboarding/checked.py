"""checked: each new order held against the guideline (§4); refused ones never reach the manager."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import audit
from models.onboarding import OnboardingOrder, OrderStatus
from models.onboarding_rules import OrderFacts, check, someone_may_decide
from models.register import (
    PhoneModel,
    Subscription,
    SubscriptionKind,
    SubscriptionOption,
    SubscriptionStatus,
)
from tasks.onboarding.base import (
    Context,
    event,
    finding_dict,
    load_orders,
    of_municipality,
    order_facts,
)


@dataclass(frozen=True)
class _Catalogue:
    models: dict[str, PhoneModel]  # by casefolded name
    options: dict[str, SubscriptionOption]  # by casefolded code

    @classmethod
    def read(cls, session: Session, municipality_id: int | None) -> _Catalogue:
        """The shared catalogue and the municipality's own (not another's)."""
        models = select(PhoneModel).where(
            or_(PhoneModel.municipality_id.is_(None), PhoneModel.municipality_id == municipality_id)
        )
        options = select(SubscriptionOption).where(
            or_(
                SubscriptionOption.municipality_id.is_(None),
                SubscriptionOption.municipality_id == municipality_id,
            )
        )
        return cls(
            {m.name.casefold(): m for m in session.scalars(models)},
            {o.code.casefold(): o for o in session.scalars(options)},
        )


def _facts(
    order: OnboardingOrder,
    catalogue: _Catalogue,
    *,
    holds: bool,
    other_manager: bool,
    deputies: frozenset[str],
    today: date,
) -> OrderFacts:
    """The order with the catalogue's model and option (now recorded on it), and the
    employee's situation."""
    model = catalogue.models.get(order.phone_model_name.casefold())
    option = catalogue.options.get(order.subscription_option_code.casefold())
    order.phone_model_id = model.id if model else None
    order.subscription_option_id = option.id if option else None
    employee = order.employee
    ended = employee.left_at is not None or (
        employee.employment_end is not None and employee.employment_end < today
    )
    return replace(
        order_facts(order, model, option),
        holds_active_personal_subscription=holds,
        employee_active=not ended,
        has_approver=someone_may_decide(_manager_id(order) is not None, deputies),
        registered_category=employee.need_category,
        other_manager_than_batch=other_manager,
        catalogue=tuple(sorted(m.name for m in catalogue.models.values() if m.available)),
        offered_options=tuple(sorted(o.code for o in catalogue.options.values() if o.available)),
    )


def _manager_id(order: OnboardingOrder) -> int | None:
    """The employee's manager, if of the same municipality (nobody decides for another's)."""
    manager = order.employee.manager
    if manager is None or manager.municipality_id != order.municipality_id:
        return None
    return manager.id


def _holders(session: Session, employee_ids: Sequence[int]) -> set[int]:
    """Who among these already holds an active personal subscription."""
    found: set[int] = set()
    for start in range(0, len(employee_ids), 500):
        found.update(
            owner
            for owner in session.scalars(
                select(Subscription.owner_id)
                .where(
                    Subscription.owner_id.in_(employee_ids[start : start + 500]),
                    Subscription.kind == SubscriptionKind.PERSONAL,
                    Subscription.status == SubscriptionStatus.ACTIVE,
                )
                .distinct()
            )
            if owner is not None
        )
    return found


def check_orders(session: Session, ids: Sequence[int], *, ctx: Context, today: date) -> None:
    """Hold each new order against the guideline; refused ones never reach the manager."""
    records = []
    orders = load_orders(session, ids, OrderStatus.REQUESTED)
    of_municipality(ctx, orders)
    batch_manager = _manager_id(load_orders(session, [min(ids)])[0])
    catalogue = _Catalogue.read(session, ctx.municipality_id)
    holders = _holders(session, sorted({o.employee_id for o in orders}))
    for order in orders:
        facts = _facts(
            order,
            catalogue,
            holds=order.employee_id in holders,
            other_manager=_manager_id(order) != batch_manager,
            deputies=ctx.deputies,
            today=today,
        )
        verdict = check(facts)
        order.findings = [finding_dict(f) for f in verdict.findings]
        records.append(
            event(
                ctx,
                order,
                "checked",
                rule="§4",
                reason="kontrollerad mot riktlinjerna",
                after={
                    "avvisningar": [str(f) for f in verdict.refusals],
                    "varningar": [str(f) for f in verdict.warnings],
                    "anteckningar": [str(f) for f in verdict.notes],
                },
            )
        )
        if verdict.refusals:
            order.status = OrderStatus.REFUSED
            records.append(
                event(
                    ctx,
                    order,
                    "refused",
                    rule=verdict.refusals[0].rule,
                    reason="; ".join(str(f) for f in verdict.refusals),
                )
            )
        else:
            order.status = OrderStatus.AWAITING_APPROVAL
            order.approver_id = _manager_id(order)
    audit.record_many(session, records)
