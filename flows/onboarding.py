"""Onboarding orders (§4, §6.1): from a need to a working phone.

The flows only sequence the steps in `tasks.onboarding` and wait for people. Waiting: a run
started from a deployment suspends (its process ends; the run comes back from the
deployment when someone answers, whatever was restarted in between); a run started
directly holds its process and polls. Either way the answer arrives as a typed form, and
every step before it is safe to pass again.

A run that cannot go on because of what was asked for (the guideline refuses every order, an
unknown employee, no clear municipality) is no fault of the system: it ends Failed with a
Swedish message and no traceback (`stopped`), and nothing of it is retried.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar, cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.flow_runs import pause_flow_run, resume_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment
from prefect.states import Failed

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

Form = TypeVar("Form", bound=RunInput)


def wait_for(form: type[Form], *, key: str, description: str, deadline_days: float) -> Form:
    """Wait for a person's answer on a form, shown with `description` above it (a run that
    holds its process gives up a while after the municipality's deadline)."""
    settings = get_settings()
    shown = form.with_initial_data(description=description)
    if deployment.id:
        answer = suspend_flow_run(wait_for_input=shown, key=key, timeout=None)
    else:
        answer = pause_flow_run(
            wait_for_input=shown,
            key=key,
            timeout=int(deadline_days * 86400 + 3600),
            poll_interval=max(1, int(settings.approval_poll_seconds)),
        )
    assert answer is not None
    return answer


class OrdersRefused(ValueError):
    """No order of the run may go on: each broke the guideline (the § is in the message)."""


class BatchNameError(ValueError):
    """The batch's name is empty or too long."""


# How a run may end without a fault of the system: the guideline said no, or what was asked
# for cannot be an order (an unknown employee, no clear municipality, a bad batch name).
ENDINGS: tuple[type[Exception], ...] = (
    OrdersRefused,
    UnknownEmployee,
    MunicipalityError,
    BatchNameError,
)


def stopped(exc: Exception) -> dict[str, Any]:
    """The run ends Failed with `exc`'s Swedish message and no traceback, nothing retried;
    `state.result()` raises `exc`.

    Prefect makes a State that a flow returns the run's final state; whoever calls the flow
    gets the flow's result or, for this one, `exc` raised: typed as the flows' result."""
    said = str(exc)
    get_run_logger().error("Körningen avslutades: %s", said)
    return cast("dict[str, Any]", Failed(message=said[:1].upper() + said[1:], data=exc))


class _ExpectedEnding(logging.Filter):
    """Prefect logs the exception of every failed deployment run as "Engine execution exited
    with unexpected exception", with its traceback, in the run's log. A run that `stopped`
    has said why already, in Swedish: that record is dropped (any other is kept)."""

    UNEXPECTED = "Engine execution exited with unexpected exception"

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (record.msg == self.UNEXPECTED and isinstance(exc, ENDINGS))


logging.getLogger("prefect.flow_runs").addFilter(_ExpectedEnding())


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
