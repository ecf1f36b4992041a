"""The watch over orders at the operator: deliveries for waiting runs (reminders, escalation
and the deadline of the manager's decision are the reminders watch's, `tasks.people`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.onboarding import OnboardingOrder, OrderStatus
from tasks.onboarding.base import Context
from tasks.onboarding.delivered import collect_deliveries
from tasks.operator import OperatorGateway


@dataclass(frozen=True)
class Resume:
    """A waiting run to resume, and the input that wakes it (its form's shape)."""

    flow_run_id: str
    run_input: dict[str, Any]


def watch_deliveries(session: Session, gateway: OperatorGateway, *, ctx: Context) -> list[Resume]:
    """Deliveries the operator reports for the municipality's waiting runs (`gateway`: its
    own); runs with nothing left are woken."""
    if ctx.municipality_id is None:
        raise ValueError("the watch looks at one municipality's orders at a time; name it")
    mine = OnboardingOrder.municipality_id == ctx.municipality_id
    runs = session.scalars(
        select(OnboardingOrder.flow_run_id)
        .where(
            mine,
            OnboardingOrder.status == OrderStatus.ORDERED,
            OnboardingOrder.flow_run_id.is_not(None),
        )
        .distinct()
    ).all()
    resumes = []
    for run_id in runs:
        ids = list(
            session.scalars(
                select(OnboardingOrder.id).where(mine, OnboardingOrder.flow_run_id == run_id)
            )
        )
        if not collect_deliveries(session, ids, gateway, ctx=ctx).waiting and run_id:
            resumes.append(Resume(run_id, {}))
    return resumes
