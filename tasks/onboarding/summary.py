"""Where the batch's orders stand: counts for the flow, rows for the run's artifact."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from models.onboarding import STATUS_SV, OrderStatus
from models.wording import counted
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


# What each step did, as the run's log says it (Swedish, with counts; no personal identity).


def received_text(ids: Sequence[int], new: int) -> str:
    """'Tog emot 3 beställningar (2 nya, 1 fanns redan).'"""
    known = len(ids) - new
    parts = [counted(new, "ny", "nya")] + ([f"{known} fanns redan"] if known else [])
    return f"Tog emot {counted(len(ids), 'beställning', 'beställningar')} ({', '.join(parts)})."


def checked_text(session: Session, ids: Sequence[int]) -> tuple[str, list[str]]:
    """'Kontrollerade 3 beställningar: 2 går till chefen, 1 avvisades (§4.1).', and a line per
    refused order (the first 20) with what the guideline says."""
    orders = load_orders(session, ids)
    to_manager = sum(o.status is OrderStatus.AWAITING_APPROVAL for o in orders)
    refused = [o for o in orders if o.status is OrderStatus.REFUSED]
    rules = sorted({f["rule"] for o in refused for f in o.findings if f["severity"] == "refusal"})
    parts = [f"{to_manager} går till chefen"] if to_manager or not refused else []
    if refused:
        parts.append(f"{len(refused)} avvisades ({', '.join(rules)})")
    if further := len(orders) - to_manager - len(refused):
        parts.append(f"{further} redan längre fram")
    lines = [
        f"{o.reference} avvisades: "
        + "; ".join(
            f"{f['rule']}: {f['message']}" for f in o.findings if f["severity"] == "refusal"
        )
        for o in refused[:20]
    ]
    checked = counted(len(orders), "beställning", "beställningar")
    return f"Kontrollerade {checked}: {', '.join(parts)}.", lines
