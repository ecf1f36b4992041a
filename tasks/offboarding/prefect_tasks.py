"""The Prefect tasks of an offboarding: one per step, over all the run's offboardings, each a
retry and visibility boundary (as onboarding's: `in_transaction` gives the step the run's
surroundings and a transaction of its own, committed when the step returns)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.settings import PREFECT_API_URL
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.offboarding import (
    DISPOSITION_SV,
    ITEM_STATUS_SV,
    STATUS_SV,
    Offboarding,
    OffboardingStatus,
    reference_id,
)
from models.offboarding_forms import Attestation, OffboardingRequest, PlanConfirmation
from models.offboarding_rules import PlanError
from models.wording import counted
from tasks.offboarding.attested import ask_to_attest, attest
from tasks.offboarding.base import Context, Wait, context_from, load
from tasks.offboarding.confirmed import ask_to_confirm, confirm
from tasks.offboarding.handed_over import carry_out
from tasks.offboarding.notified import notify
from tasks.offboarding.planned import plan
from tasks.offboarding.requested import StartRace, TooLate, receive
from tasks.offboarding.started import MakeRun, Started, ToStart, start_municipality
from tasks.offboarding.terminated import (
    confirm_pending,
    record_confirmed,
    send_terminations,
    termination_wait,
)
from tasks.offboarding.waiting import wait_for_last_day
from tasks.onboarding.prefect_tasks import _alive, _gateway, transient
from tasks.onboarding.requested import UnknownEmployee

T = TypeVar("T")


def _current(kommun: str | None) -> tuple[Engine, Context]:
    from prefect.runtime import flow_run

    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings
    from telefoni.core.tenancy import municipality_id_of

    settings = get_settings()
    municipality = settings.kommun(kommun)
    engine = get_engine(settings.database_url)
    run_id = str(flow_run.id) if flow_run.id else None
    return engine, context_from(
        settings, run_id, municipality, municipality_id_of(engine, municipality)
    )


def in_transaction(kommun: str | None, step: Callable[[Session, Context], T]) -> T:
    engine, ctx = _current(kommun)
    with Session(engine) as session, session.begin():
        return step(session, ctx)


def retry_if_transient(task: object, task_run: object, state: State[Any]) -> bool:
    """Retry a step only for what may pass: see `tasks.onboarding.prefect_tasks.transient`;
    two starts of the one offboarding at the same moment too."""
    outcome = state.result(raise_on_failure=False)
    return isinstance(outcome, BaseException) and (
        transient(outcome) or isinstance(outcome, StartRace)
    )


STEP: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": 5,
    "retry_condition_fn": retry_if_transient,
    "cache_policy": NO_CACHE,
    "persist_result": False,
}

Refusal = UnknownEmployee | PlanError | TooLate


@task(name="Ta emot avslutet", **STEP)
def receive_task(request: OffboardingRequest, kommun: str) -> list[int] | Refusal:
    """HR's start, stored once per employment end (a second start finds the first). What
    cannot be an offboarding is returned, not raised: the run ends there."""
    log = get_run_logger()
    try:
        got = in_transaction(kommun, lambda s, ctx: receive(s, request, ctx=ctx, now=utcnow()))
    except (UnknownEmployee, PlanError, TooLate) as exc:
        log.error("Avslutet togs inte emot: %s.", exc)
        return exc
    if got.new:
        log.info("Avslutet för %s är registrerat.", request.employee_number)
    elif got.changed:
        log.info("Avslutet fanns redan; ändrat: %s.", "; ".join(got.changed))
    return [got.offboarding_id]


@task(name="Hämta avsluten", **STEP)
def recorded_task(references: list[str], kommun: str) -> list[int]:
    """The recorded offboardings the run carries (started by the sync)."""
    wanted = [reference_id(r) for r in references]
    return in_transaction(
        kommun,
        lambda s, ctx: list(
            s.scalars(
                select(Offboarding.id).where(
                    Offboarding.id.in_(wanted), Offboarding.municipality_id == ctx.municipality_id
                )
            )
        ),
    )


@task(name="Ta över avsluten", **STEP)
def adopt_task(ids: list[int], kommun: str) -> list[str]:
    """The offboardings become this run's, unless another run that is still going carries them
    (then it is named, and this run does nothing)."""

    def adopt(session: Session, ctx: Context) -> list[str]:
        busy = set()
        for off in load(session, ids, lock=True):
            if off.status.closed or off.flow_run_id in (None, ctx.flow_run_id):
                if off.flow_run_id is None:
                    off.flow_run_id = ctx.flow_run_id
                continue
            if _alive(str(off.flow_run_id)):
                busy.add(str(off.flow_run_id))
            else:
                off.flow_run_id = ctx.flow_run_id
        return sorted(busy)

    return in_transaction(kommun, adopt)


@task(name="Planera abonnemang, telefoner och checklista", **STEP)
def plan_task(ids: list[int], kommun: str) -> PlanError | int:
    log = get_run_logger()
    try:
        made = in_transaction(kommun, lambda s, ctx: plan(s, ids, ctx=ctx, now=utcnow()))
    except PlanError as exc:
        log.error("Avslutet kan inte planeras: %s.", exc)
        return exc
    if made:
        log.info("Planerade %s; den anställda har fått besked.", counted(made, "avslut", "avslut"))
    return made


@task(name="Be chefen bekräfta", **STEP)
def confirm_ask_task(ids: list[int], kommun: str) -> Wait:
    return in_transaction(kommun, lambda s, ctx: ask_to_confirm(s, ids, ctx=ctx, now=utcnow()))


@task(name="Registrera chefens bekräftelse", **STEP)
def confirm_task(ids: list[int], given: PlanConfirmation, kommun: str) -> str | None:
    said = in_transaction(kommun, lambda s, ctx: confirm(s, ids, given, ctx=ctx, now=utcnow()))
    _told(said, "Chefens svar är registrerat.")
    return said


@task(name="Vänta på sista arbetsdagen", **STEP)
def last_day_task(ids: list[int], kommun: str, woken: bool = False) -> Wait:
    wait = in_transaction(
        kommun, lambda s, ctx: wait_for_last_day(s, ids, ctx=ctx, now=utcnow(), woken=woken)
    )
    if wait.waiting:
        get_run_logger().info("Väntar på sista arbetsdagen; körningen håller ingen process.")
    return wait


@task(
    name="Säg upp abonnemang hos operatören", **(STEP | {"retries": 3, "retry_delay_seconds": 60})
)
def terminate_task(ids: list[int], kommun: str) -> int:
    """Each subscription to end, sent once (§8.1, §6.1); those the operator has confirmed end."""
    engine, ctx = _current(kommun)
    with _gateway(kommun) as gateway:
        sent = send_terminations(engine, ids, gateway, ctx=ctx)
        with Session(engine) as session, session.begin():
            ended = confirm_pending(session, ids, gateway, ctx=ctx)
    if sent or ended:
        get_run_logger().info(
            "Skickade %s till operatören; väntande som operatören bekräftade nu: %d.",
            counted(sent, "uppsägning", "uppsägningar"),
            ended,
        )
    return sent


@task(name="Vänta på bekräftade uppsägningar", **STEP)
def termination_wait_task(ids: list[int], kommun: str) -> Wait:
    """Terminations sent by e-mail wait for a person to register the operator's answer; the
    checklist's owners are asked meanwhile (their mails go out on the last day either way)."""

    def waited(session: Session, ctx: Context) -> Wait:
        wait = termination_wait(session, ids, ctx=ctx)
        if wait.waiting:
            ask_to_attest(session, ids, ctx=ctx, now=utcnow())
        return wait

    return in_transaction(kommun, waited)


@task(name="Registrera bekräftade uppsägningar", **STEP)
def confirmed_terminations_task(
    ids: list[int], numbers: list[str], by: str, kommun: str
) -> str | None:
    said = in_transaction(kommun, lambda s, ctx: record_confirmed(s, ids, numbers, by=by, ctx=ctx))
    _told(said, "Bekräftelserna är registrerade.")
    return said


@task(name="Be om intyg för checklistan", **STEP)
def attest_ask_task(ids: list[int], kommun: str) -> Wait:
    """The owners of what is left on the checklist asked (once each); the handovers and
    returns the checklist already allows done, and each offboarding that is done completed (a
    run of many need not wait for the last one to finish the others)."""

    def asked(session: Session, ctx: Context) -> Wait:
        carry_out(session, ids, ctx=ctx, now=utcnow())
        notify(session, ids, ctx=ctx, now=utcnow())
        return ask_to_attest(session, ids, ctx=ctx, now=utcnow())

    return in_transaction(kommun, asked)


@task(name="Registrera intyg", **STEP)
def attest_task(ids: list[int], given: Attestation, kommun: str) -> str | None:
    said = in_transaction(kommun, lambda s, ctx: attest(s, ids, given, ctx=ctx, now=utcnow()))
    _told(said, "Intyget är registrerat.")
    return said


@task(name="Lämna över och underrätta kontaktcenter", **STEP)
def finish_task(ids: list[int], kommun: str) -> int:
    """What is left carried out; each offboarding that is done told to the contact centre
    (§8.1) and completed; how many of the run's are."""

    def finished(session: Session, ctx: Context) -> int:
        carry_out(session, ids, ctx=ctx, now=utcnow())
        notify(session, ids, ctx=ctx, now=utcnow())
        return len(load(session, ids, OffboardingStatus.COMPLETED))

    done = in_transaction(kommun, finished)
    get_run_logger().info(
        "%s av %d klara; kontaktcenter har fått besked om varje för registrering (§8.1).",
        counted(done, "avslut", "avslut"),
        len(ids),
    )
    return done


@task(name="Sammanställ", cache_policy=NO_CACHE, persist_result=False)
def outcome_task(ids: list[int], kommun: str) -> list[dict[str, str]]:
    """Where each item stands, for the run's artifact (no personal identity)."""

    def rows(session: Session, ctx: Context) -> list[dict[str, str]]:
        return [
            {
                "avslut": off.reference,
                "anställd": off.employee.employee_number,
                "sista arbetsdag": off.last_day.isoformat(),
                "läge": STATUS_SV[off.status],
                "nummer eller telefon": item.what,
                "vad som händer": DISPOSITION_SV[item.disposition],
                "läge för detta": ITEM_STATUS_SV[item.status],
            }
            for off in load(session, ids)
            for item in off.items
        ]

    return in_transaction(kommun, rows)


def _told(said: str | None, ok: str) -> None:
    if said:
        get_run_logger().warning("%s", said)
    else:
        get_run_logger().info(ok)


def make_run(what: ToStart, code: str) -> str:
    """The deployment run that carries recorded offboardings, under its key (made once). The
    municipality goes by its name: the served run form offers the names (`telefoni up`), and
    a deployment that enforces its schema refuses anything else."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    from tasks.offboarding.started import BATCH_DEPLOYMENT
    from telefoni.core.settings import get_settings

    run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync: never a coroutine here
        BATCH_DEPLOYMENT,
        parameters={
            "references": list(what.references),
            "kommun": get_settings().kommun(code).name,
        },
        flow_run_name=what.name,
        timeout=0,
        idempotency_key=what.key,
        as_subflow=False,
    )
    return str(run.id)


class NoPrefectServer(RuntimeError):
    """No Prefect API is named: Prefect would start a temporary server of its own, and runs made
    there would be gone with it while their records say they were made."""


def _no_server(what: ToStart, code: str) -> str:
    raise NoPrefectServer("ingen Prefect-server är angiven (PREFECT_API_URL)")


_make_run = make_run


def start_runs(codes: Sequence[str] | None = None, *, make_run: MakeRun = make_run) -> Started:
    """The runs of recorded offboardings that have none, municipality by municipality (those
    of `codes`; None: all); one that cannot make its runs does not stop the others. A plain
    function: `telefoni sync` calls it too, the Prefect API set."""
    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings
    from telefoni.core.tenancy import municipality_id_of

    settings = get_settings()
    engine = get_engine(settings.database_url)
    if make_run is _make_run and not PREFECT_API_URL.value():
        make_run = _no_server
    total = Started()
    for municipality in settings.municipalities:
        if codes is not None and municipality.code not in codes:
            continue
        total += start_municipality(
            engine,
            municipality_id=municipality_id_of(engine, municipality),
            code=municipality.code,
            make_run=make_run,
        )
    return total


@task(name="Starta registrerade avslut", cache_policy=NO_CACHE, persist_result=False)
def start_task(codes: Sequence[str] | None = None) -> Started:
    """The runs of recorded offboardings that have none (`start_runs`); a Prefect server out of
    reach or a run that cannot be made leaves them for the next try, said as a warning: the
    run that asked (the sync, the reminders watch) does not fail for it."""
    started = start_runs(codes)
    logger = get_run_logger()
    if started.made:
        logger.info("Startade %s.", counted(started.made, "avslutskörning", "avslutskörningar"))
    if started.warning:
        logger.warning("%s.", started.warning)
    return started
