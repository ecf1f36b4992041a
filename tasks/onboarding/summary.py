"""Where the batch's orders stand: counts for the flow, rows for the run's artifact."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from models.onboarding import STATUS_SV
from tasks.onboarding.base import load_orders


def status_counts(session: Session, ids: Sequence[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order in load_orders(session, ids):
        counts[order.status.value] = counts.get(order.status.value, 0) + 1
    return counts


def outcome_rows(session: Session, ids: Sequence[int]) -> list[dict[str, str]]:
    """Per order, for the run's artifact: where it stands and what the rules said."""
    rows = []
    for o in load_orders(session, ids):
        said = [f"{f['rule']}: {f['message']}" for f in o.findings if f["severity"] != "note"]
        rows.append(
            {
                "referens": o.reference,
                "anställd": o.employee.employee_number,
                "läge": STATUS_SV[o.status],
                "nummer": o.number or "",
                "riktlinjerna": "; ".join(said),
            }
        )
    return rows
