"""Onboarding orders (§4, §6.1): from a need to a working phone.

The flows only sequence the steps in `tasks.onboarding` and wait for people (`flows.common`:
waiting for a form, and ending without a fault when the guideline refuses every order, a bad
batch name, an unknown employee or no clear municipality).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.flow_runs import resume_flow_run

from flows.common import expected, stopped, wait_for
from models.onboarding_forms import ApprovalDecision, DeliveryInput, OrderRequest
from models.wording import counted
from tasks.onboarding import (
    adopt_task,
    ask_task,
    check_task,
    collect_task,
    decide_task,
    notify_task,
    outcome_task,
    place_task,
    receive_task,
    record_delivery_task,
    register_task,
)
from tasks.onboarding.requested import UnknownEmployee
from telefoni.core.municipalities import MunicipalityError
from telefoni.core.settings import get_settings


class OrdersRefused(ValueError):
    """No order of the run may go on: each broke the guideline (the § is in the message)."""


class BatchNameError(ValueError):
    """The batch's name is empty or too long."""


expected(OrdersRefused, BatchNameError)


def process(
    requests: list[OrderRequest], batch_key: str | None, kommun: str | None
) -> dict[str, Any]:
    """requested → checked → approved → ordered → delivered → registered → notified, for the
    employees of municipality `kommun` (None: the only one)."""
    settings = get_settings()
    try:
        municipality = settings.kommun(kommun)
    except MunicipalityError as exc:  # in Swedish
        return stopped(exc)
    code, days = municipality.code, municipality.approval_deadline_days
    ids = receive_task(requests, batch_key, code)
    if isinstance(ids, UnknownEmployee):
        return stopped(ids)
    busy = adopt_task(ids, code)
    if busy:
        get_run_logger().warning(
            "Beställningen hanteras redan av körningen %s; den här gör ingenting.", ", ".join(busy)
        )
        return {"beställningar": len(ids), "hanteras av": busy}
    counts = check_task(ids, code)
    if counts.get("refused") == len(ids):
        rows = outcome_task(ids, code)
        publish(rows, municipality.name)
        said = "; ".join(f"{r['referens']}: {r['riktlinjerna']}" for r in rows)
        refused = counted(len(rows), "beställning", "beställningar")
        return stopped(OrdersRefused(f"{refused} avvisades enligt riktlinjerna: {said}"))
    note: str | None = None
    while (asking := ask_task(ids, code)).waiting:
        description = f"**{note}**\n\n{asking.description}" if note else asking.description
        decision = wait_for(
            ApprovalDecision, key=asking.key, description=description, deadline_days=days
        )
        outcome = decide_task(ids, decision, code)
        note = None if outcome.accepted else outcome.message
    place_task(ids, code)
    note = None
    quick = settings.operator_delivery_wait_seconds if settings.operator_gateway == "http" else 0
    while (waiting := collect_task(ids, code, wait_seconds=quick)).waiting:
        description = f"**{note}**\n\n{waiting.description}" if note else waiting.description
        given = wait_for(
            DeliveryInput, key=waiting.key, description=description, deadline_days=days
        )
        note = record_delivery_task(ids, given, code, order_id=waiting.order_id)
    register_task(ids, code)
    counts = notify_task(ids, code)
    publish(outcome_task(ids, code), municipality.name)
    return {"beställningar": len(ids), "läge": counts}


def publish(rows: list[dict[str, str]], municipality: str) -> None:
    """The orders' outcome on the run, all of `municipality`: a summary and a table (no
    personal identity)."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["läge"]] = counts.get(row["läge"], 0) + 1
    create_markdown_artifact(
        key="onboarding",
        markdown=f"## Beställning av telefon – {municipality}\n\n| läge | antal |\n| --- | ---: |\n"
        + "\n".join(f"| {k} | {v} |" for k, v in sorted(counts.items())),
        description="Beställningarnas läge när körningen slutade",
    )
    create_table_artifact(
        key="onboarding-orders", table=rows[:500], description="Beställningarna (de första 500)"
    )


@flow(
    name="onboarding-order",
    persist_result=False,
    description="Beställning av telefon och abonnemang för en anställd (§4, §6.1): kontroll mot "
    "riktlinjerna, chefens godkännande, beställning via den anvisade beställningsfunktionen, "
    "leverans, registrering och besked till kontaktcenter och den anställda.",
)
def onboarding_order(order: OrderRequest, kommun: str | None = None) -> dict[str, Any]:
    """Beställ telefon och abonnemang till en anställd.

    Args:
        order: Beställningen: vem, behovskategori, modell, tillbehör, abonnemang och appar.
        kommun: Kommun: den anställdes kommun. Tomt = den enda kommunen.
    """
    return process([order], batch_key=None, kommun=kommun)


@flow(
    name="onboarding-batch",
    persist_result=False,
    description="Samlad beställning (t.ex. inför skolstarten): alla anställda har samma chef, "
    "som beslutar om hela beställningen på en gång.",
)
def onboarding_batch(
    orders: list[OrderRequest], name: str, kommun: str | None = None
) -> dict[str, Any]:
    """Samlad beställning av telefoner, ett beslut av chefen för alla.

    Args:
        orders: Beställningarna, en per anställd.
        name: Ett namn på den samlade beställningen, t.ex. "Skolstart 2027 Sörbyskolan".
        kommun: Kommun: den anställdes kommun. Tomt = den enda kommunen.
    """
    batch = name.strip()
    if not batch or len(batch) > 80:
        return stopped(BatchNameError("namnet på den samlade beställningen ska vara 1–80 tecken"))
    return process(orders, batch_key=batch, kommun=kommun)


@flow(
    name="onboarding-watch",
    persist_result=False,
    description="Hämtar leveranser från operatören för beställningar som väntar på dem, för "
    "varje kommun. (Påminnelser och tidsfrister för chefens beslut sköter reminders.)",
)
def onboarding_watch() -> dict[str, int]:
    """Leveranser från operatören för väntande beställningar i alla kommuner."""
    from tasks.onboarding import watch_task

    resumed = 0
    for resume in watch_task():
        try:
            resume_flow_run(UUID(resume.flow_run_id), run_input=resume.run_input)
            resumed += 1
        except Exception as exc:  # not waiting (any more): the next watch looks again
            get_run_logger().warning(
                "Körningen %s kunde inte återupptas: %s", resume.flow_run_id, exc
            )
    return {"återupptagna körningar": resumed}
