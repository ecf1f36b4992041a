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
from typing import Any, TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from models.base import utcnow
from models.onboarding import OrderStatus
from models.onboarding_forms import ApprovalDecision, DeliveryInput, OrderRequest
from models.wording import counted
from tasks.onboarding.approved import ApprovalWait, DecisionOutcome, ask_for_approval, decide
from tasks.onboarding.base import Context, context_from, load_orders
from tasks.onboarding.checked import check_orders
from tasks.onboarding.delivered import DeliveryWait, collect_deliveries, record_delivery
from tasks.onboarding.notified import Told, notify
from tasks.onboarding.ordered import place_orders
from tasks.onboarding.registered import register
from tasks.onboarding.requested import RequestRace, UnknownEmployee, adopt, receive_orders
from tasks.onboarding.summary import checked_text, outcome_rows, received_text, status_counts
from tasks.onboarding.watch import Resume, watch_deliveries
from tasks.operator import OperatorGateway, gateway_from, is_transient

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


def transient(exc: BaseException) -> bool:
    """What may pass if the step is tried again: the operator out of reach, the database
    connection lost or busy, the same request stored at the same moment by another run. A
    refusal or a bad input is not: trying again gives the same answer."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return is_transient(exc) or isinstance(
        exc, OperationalError | InterfaceError | PoolTimeout | RequestRace
    )


def retry_if_transient(task: object, task_run: object, state: State[Any]) -> bool:
    """A Prefect `retry_condition_fn` (a plain function, as Prefect requires): retry the step
    only when what it failed on was `transient`."""
    outcome = state.result(raise_on_failure=False)
    return isinstance(outcome, BaseException) and transient(outcome)


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
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def receive_task(
    requests: list[OrderRequest], batch_key: str | None, kommun: str
) -> list[int] | UnknownEmployee:
    """Store each order once, in `kommun` (the same request again finds its order). An unknown
    employee is returned, not raised: the run ends there, with nothing stored."""
    log = get_run_logger()
    try:
        got = in_transaction(
            kommun, lambda s, ctx: receive_orders(s, requests, batch_key=batch_key, ctx=ctx)
        )
    except UnknownEmployee as exc:
        log.error("Beställningen togs inte emot: %s. Inget har sparats.", exc)
        return exc
    log.info(received_text(got.ids, got.new))
    return got.ids


@task(
    name="Ta över beställningarna",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def adopt_task(ids: list[int], kommun: str) -> list[str]:
    """Orders of an ended run become this run's; runs still handling them are named."""
    busy = in_transaction(kommun, lambda s, ctx: adopt(s, ids, ctx.flow_run_id, _alive))
    if not busy:
        get_run_logger().info(
            "Körningen hanterar %s.", counted(len(ids), "beställning", "beställningar")
        )
    return busy


@task(name="Sammanställ", cache_policy=NO_CACHE, persist_result=False)
def outcome_task(ids: list[int], kommun: str) -> list[dict[str, str]]:
    """Where each order stands, for the run's artifact."""
    return in_transaction(kommun, lambda s, _: outcome_rows(s, ids))


@task(
    name="Kontrollera mot riktlinjerna",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def check_task(ids: list[int], kommun: str) -> dict[str, int]:
    """The guideline's rules (§4); refused orders stop here with their §."""

    def checked(session: Session, ctx: Context) -> tuple[dict[str, int], str, list[str]]:
        check_orders(session, ids, ctx=ctx, today=ctx.today())
        return (status_counts(session, ids), *checked_text(session, ids))

    counts, said, refusals = in_transaction(kommun, checked)
    log = get_run_logger()
    log.info(said)
    for line in refusals:
        log.warning(line)
    return counts


@task(
    name="Be chefen om beslut",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_if_transient,
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
    retry_condition_fn=retry_if_transient,
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
        get_run_logger().warning("%s", outcome.message)
    return outcome


@task(
    name="Beställ via beställningsfunktionen",
    retries=3,
    retry_delay_seconds=60,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def place_task(ids: list[int], kommun: str) -> int:
    """Send each approved order once (§6.1), by the configured gateway, to `kommun`'s ordering
    function."""
    from telefoni.core.settings import get_settings

    engine, ctx = _current(kommun)  # each order in a transaction of its own: place_orders does
    with _gateway(kommun) as gateway:
        placed = place_orders(engine, ids, gateway, ctx=ctx)
    get_run_logger().info(
        "Skickade %s till beställningsfunktionen (%s).",
        counted(placed, "beställning", "beställningar"),
        "e-post" if get_settings().operator_gateway == "email" else "operatörens API",
    )
    return placed


@task(
    name="Hämta leveranser",
    retries=3,
    retry_delay_seconds=30,
    retry_condition_fn=retry_if_transient,
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
                break
            time.sleep(every)
    counts = in_transaction(kommun, lambda s, _: status_counts(s, ids))
    waiting = counts.get(OrderStatus.ORDERED.value, 0)
    log = get_run_logger()
    if waiting:
        log.info(
            "%s väntar på leverans%s.",
            counted(waiting, "beställning", "beställningar"),
            "; formuläret frågar efter en i taget" if waiting > 1 else "",
        )
    else:
        log.info("Alla beställningar som gick till operatören är levererade.")
    return wait


@task(name="Registrera leverans från formuläret", cache_policy=NO_CACHE, persist_result=False)
def record_delivery_task(
    ids: list[int], given: DeliveryInput, kommun: str, order_id: int | None = None
) -> str | None:
    """A delivery typed in by a person for order `order_id`; a message if it cannot be used."""

    def recorded(session: Session, ctx: Context) -> tuple[str | None, str]:
        problem = record_delivery(session, ids, given, ctx=ctx, order_id=order_id)
        asked = load_orders(session, [order_id]) if order_id is not None else []
        return problem, asked[0].reference if asked else "beställningen"

    problem, reference = in_transaction(kommun, recorded)
    log = get_run_logger()
    if problem:
        log.warning(problem)
    elif any(v.strip() for v in (given.number, given.imei, given.sim)):
        log.info("Leveransen för %s registrerades.", reference)
    else:
        log.info("Inget ifyllt i formuläret; läget hos operatören hämtas igen.")
    return problem


@task(
    name="Registrera abonnemang, telefon och kunddatabas",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def register_task(ids: list[int], kommun: str) -> None:
    """Subscription, device, headset and directory entry (§3.1)."""
    registered = in_transaction(kommun, lambda s, ctx: register(s, ids, ctx=ctx))
    get_run_logger().info(
        "Registrerade %s med telefon och post i kunddatabasen (§3.1).",
        counted(registered, "abonnemang", "abonnemang"),
    )


@task(
    name="Underrätta kontaktcenter och den anställda",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def notify_task(ids: list[int], kommun: str) -> dict[str, int]:
    """E-mails to the contact centre (§3.1) and the employee (§7.2), through the outbox."""

    def notified(session: Session, ctx: Context) -> tuple[dict[str, int], Told]:
        told = notify(session, ids, ctx=ctx)
        return status_counts(session, ids), told

    counts, told = in_transaction(kommun, notified)
    if told.orders:
        get_run_logger().info(
            "Kontaktcenter fick besked om %s; %s fick besked om sin telefon (utkorgen skickar).",
            counted(told.orders, "nytt nummer", "nya nummer"),
            counted(told.employees, "anställd", "anställda"),
        )
    return counts


@task(
    name="Hämta leveranser för väntande körningar",
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_if_transient,
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
