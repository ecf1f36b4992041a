"""The Prefect tasks of the reminders watch: each a retry and visibility boundary."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

from models.base import utcnow
from models.wording import counted
from tasks.kinds import DAYS, KINDS
from tasks.people.context import ask_context_from
from tasks.people.pending import pending
from tasks.people.waking import Woke, wake
from tasks.people.watching import Counts, Wake, to_wake, watch, woken


@dataclass
class Watched:
    counts: dict[str, Counts] = field(default_factory=dict)  # by municipality name
    wakes: list[Wake] = field(default_factory=list)


@task(
    name="Påminn, eskalera och tillämpa tidsfrister",
    retries=2,
    retry_delay_seconds=30,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def watch_task() -> Watched:
    """Every municipality's open asks, each at its own intervals and deadlines; the runs to
    wake."""
    from prefect.runtime import flow_run

    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings
    from telefoni.core.tenancy import municipality_id_of

    settings = get_settings()
    engine = get_engine(settings.database_url)
    run_id = str(flow_run.id) if flow_run.id else None
    watched = Watched()
    logger = get_run_logger()
    for municipality in settings.municipalities:
        ctx = ask_context_from(
            settings, municipality, municipality_id_of(engine, municipality), run_id
        )
        with Session(engine) as session, session.begin():
            counts = watch(session, kinds=KINDS, ctx=ctx, now=utcnow())
            watched.wakes += to_wake(session, kinds=KINDS, municipality_id=ctx.municipality_id)
            now = utcnow()
            for days in DAYS:
                watched.wakes += days(session, ctx, now)
        watched.counts[municipality.name] = counts
        logger.info(
            "%s: %d påminnelser, %d eskalerade till chefens chef, %d vid tidsfristen.",
            municipality.name,
            counts.reminded,
            counts.escalated,
            counts.expired,
        )
    return watched


@task(name="Väck väntande körningar", cache_policy=NO_CACHE, persist_result=False)
def wake_task(wakes: list[Wake]) -> int:
    """Resume each run whose ask was settled elsewhere; what cannot be woken now is tried
    again by the next watch."""
    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings

    logger = get_run_logger()
    done, resumed = [], 0
    for item in wakes:
        woke = wake(item.flow_run_id, item.run_input)
        if woke is Woke.NOT_WAITING:
            logger.info(
                "Körningen %s väntar inte just nu; nästa körning försöker igen.", item.flow_run_id
            )
            continue
        done.append(item.ask_id)
        resumed += woke is Woke.RESUMED
    if done:
        with Session(get_engine(get_settings().database_url)) as session, session.begin():
            woken(session, done, utcnow())
    logger.info("Väckte %s.", counted(resumed, "väntande körning", "väntande körningar"))
    return resumed


@task(name="Vad väntar på vem", cache_policy=NO_CACHE, persist_result=False)
def pending_task() -> list[dict[str, str]]:
    """Every open ask of every municipality, oldest first, as the run's table shows it."""
    from telefoni.core.db import get_engine
    from telefoni.core.settings import get_settings
    from telefoni.core.tenancy import municipality_id_of

    settings = get_settings()
    engine = get_engine(settings.database_url)
    ids = {municipality_id_of(engine, m): m for m in settings.municipalities}
    with Session(engine) as session:
        rows = pending(
            session,
            municipality_ids=ids,
            deputies={i: m.deputies for i, m in ids.items()},
            ui_url=settings.prefect_ui_url,
            tz=settings.tz,
            now=utcnow(),
        )
    get_run_logger().info("%s väntar på svar.", counted(len(rows), "ärende", "ärenden"))
    return [r.row() for r in rows]
