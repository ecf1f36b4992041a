"""The Prefect tasks: one per step, over the whole batch, each a retry and visibility boundary.

A task adds a name and retries to its step and nothing else: `in_transaction` gives the step
the run's surroundings and a transaction of its own, committed when the step returns. Every
task of an order's run is told the run's municipality (`kommun`, its code): the surroundings
are that municipality's (its sender, addresses, deciders, deadline, ordering function).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from typing import TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models.base import utcnow
from models.onboarding_forms import ApprovalDecision, DeliveryInput, OrderRequest
from tasks.onboarding.approved import ApprovalWait, DecisionOutcome, ask_for_approval, decide
from tasks.onboarding.base import Context, context_from
from tasks.onboarding.checked import check_orders
from tasks.onboarding.delivered import DeliveryWait, collect_deliveries, record_delivery
from tasks.onboarding.notified import notify
from tasks.onboarding.ordered import place_orders
from tasks.onboarding.registered import register
from tasks.onboarding.requested import adopt, receive
from tasks.onboarding.summary import outcome_rows, status_counts
from tasks.onboarding.watch import Resume, watch_deliveries
from tasks.operator import OperatorGateway, gateway_from, retry_on_transient

T = TypeVar("T")


def _current(kommun: str | None) -> tuple[Engine, Context]:
    """The register and the surroundings of municipality `kommun`'s orders in this run."""
    from prefect.runtime import flow_run

    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings
    from telefoni.core.tenancy import municipality_id_of

    settings = get_settings()
    municipality = settings.kommun(kommun)
    engine = get_engine(settings.database_url)
    run_id = str(flow_run.id) if flow_run.id else None
    ctx = context_from(settings, run_id, municipality, municipality_id_of(engine, municipality))
    return engine, ctx


def in_transaction(kommun: str | None, step: Callable[[Session, Context], T]) -> T:
    """Run a step in a transaction of its own, with the context of municipality `kommun`;
    what it returns."""
    engine, ctx = _current(kommun)
    with Session(engine) as session, session.begin():
        return step(session, ctx)


def _gateway(kommun: str | None) -> AbstractContextManager[OperatorGateway]:
    """The operator gateway the settings name, for `kommun`'s orders, closed when done."""
    from telefoni.core.settings import get_settings

    settings = get_settings()
    return closing(gateway_from(settings, settings.kommun(kommun)))


def _alive(run_id: str) -> bool:
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(run_id)).state
    except (ObjectNotFound, ValueError):
        return False
    return state is not None and not state.is_final()


@task(
    name="Ta emot beställningar",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def receive_task(requests: list[OrderRequest], batch_key: str | None, kommun: str) -> list[int]:
    """Store each order once, in `kommun` (the same request again finds its order)."""
    return in_transaction(kommun, lambda s, ctx: receive(s, requests, batch_key=batch_key, ctx=ctx))


@task(
    name="Ta över beställningarna",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def adopt_task(ids: list[int], kommun: str) -> list[str]:
    """Orders of an ended run become this run's; runs still handling them are named."""
    return in_transaction(kommun, lambda s, ctx: adopt(s, ids, ctx.flow_run_id, _alive))


@task(name="Sammanställ", cache_policy=NO_CACHE, persist_result=False)
def outcome_task(ids: list[int], kommun: str) -> list[dict[str, str]]:
    """Where each order stands, for the run's artifact."""
    return in_transaction(kommun, lambda s, _: outcome_rows(s, ids))


@task(name="Kontrollera mot riktlinjerna", cache_policy=NO_CACHE, persist_result=False)
def check_task(ids: list[int], kommun: str) -> dict[str, int]:
    """The guideline's rules (§4); refused orders stop here with their §."""

    def checked(session: Session, ctx: Context) -> dict[str, int]:
        check_orders(session, ids, ctx=ctx, today=ctx.today())
        return status_counts(session, ids)

    return in_transaction(kommun, checked)


@task(
    name="Be chefen om beslut",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def ask_task(ids: list[int], kommun: str) -> ApprovalWait:
    """E-mail the manager once; what the approval form shows."""
    return in_transaction(kommun, lambda s, ctx: ask_for_approval(s, ids, ctx=ctx, now=utcnow()))


@task(
    name="Registrera beslut",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def decide_task(ids: list[int], decision: ApprovalDecision, kommun: str) -> DecisionOutcome:
    """The manager's (or deputy's) decision, of the orders' municipality; anyone else is
    refused."""
    outcome = in_transaction(kommun, lambda s, ctx: decide(s, ids, decision, ctx=ctx, now=utcnow()))
    if outcome.accepted:
        get_run_logger().info("Beslutet är registrerat: %s.", outcome.message)
    else:  # told at once here, and at the top of the form that is shown again
        get_run_logger().warning("Svaret registrerades inte: %s", outcome.message)
    return outcome


@task(
    name="Beställ via beställningsfunktionen",
    retries=3,
    retry_delay_seconds=60,
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def place_task(ids: list[int], kommun: str) -> int:
    """Send each approved order once (§6.1), by the configured gateway, to `kommun`'s ordering
    function."""
    engine, ctx = _current(kommun)  # each order in a transaction of its own: place_orders does
    with _gateway(kommun) as gateway:
        return place_orders(engine, ids, gateway, ctx=ctx)


@task(
    name="Hämta leveranser",
    retries=3,
    retry_delay_seconds=30,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def collect_task(
    ids: list[int], kommun: str, wait_seconds: float = 0.0, every: float = 2.0
) -> DeliveryWait:
    """Ask the operator about deliveries, for up to `wait_seconds`; what is still missing."""
    deadline = time.monotonic() + wait_seconds
    with _gateway(kommun) as gateway:
        while True:
            wait = in_transaction(
                kommun, lambda s, ctx: collect_deliveries(s, ids, gateway, ctx=ctx)
            )
            if not wait.waiting or time.monotonic() >= deadline:
                return wait
            time.sleep(every)


@task(name="Registrera leverans från formuläret", cache_policy=NO_CACHE, persist_result=False)
def record_delivery_task(ids: list[int], given: DeliveryInput, kommun: str) -> str | None:
    """A delivery typed in by a person; a message if it cannot be used."""
    return in_transaction(kommun, lambda s, ctx: record_delivery(s, ids, given, ctx=ctx))


@task(
    name="Registrera abonnemang, telefon och kunddatabas",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def register_task(ids: list[int], kommun: str) -> None:
    """Subscription, device, headset and directory entry (§3.1)."""
    in_transaction(kommun, lambda s, ctx: register(s, ids, ctx=ctx))


@task(
    name="Underrätta kontaktcenter och den anställda",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def notify_task(ids: list[int], kommun: str) -> dict[str, int]:
    """E-mails to the contact centre (§3.1) and the employee (§7.2), through the outbox."""

    def notified(session: Session, ctx: Context) -> dict[str, int]:
        notify(session, ids, ctx=ctx)
        return status_counts(session, ids)

    return in_transaction(kommun, notified)


@task(
    name="Hämta leveranser för väntande körningar",
    retries=2,
    retry_delay_seconds=30,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def watch_task() -> list[Resume]:
    """Collect deliveries, municipality by municipality (each with its own operator gateway);
    the runs to wake."""
    from telefoni.core.settings import get_settings

    resumes: list[Resume] = []
    for municipality in get_settings().municipalities:
        code = municipality.code
        with _gateway(code) as gateway:
            resumes += in_transaction(code, lambda s, ctx: watch_deliveries(s, gateway, ctx=ctx))
    return resumes
