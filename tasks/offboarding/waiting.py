"""waiting: nothing of the last day's work is done before the last working day.

A run waits for it as a suspended run, holding no process; the reminders watch wakes the runs
whose last day has come (`to_wake`). HR moving the last day moves the wait: the run that wakes
looks at the day again and waits on if it has not come.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import audit
from models import offboarding_notices as notices
from models.offboarding import Offboarding, OffboardingStatus
from tasks.offboarding.base import (
    NOT_WAITING,
    Context,
    Wait,
    event,
    lead,
    load,
    of_municipality,
    used_up,
)
from tasks.people import AskContext, Wake


def wait_for_last_day(
    session: Session, ids: Sequence[int], *, ctx: Context, now: datetime, woken: bool = False
) -> Wait:
    """The offboardings whose last day has come are carried out from now on; the run waits
    while any of its others has not come. `woken`: the run was waiting for it and was woken
    (that wait is used up: a next one has a key of its own)."""
    if woken:
        used_up(session, ids)
    offs = load(session, ids, OffboardingStatus.PLANNED, OffboardingStatus.WAITING, lock=True)
    of_municipality(ctx, offs)
    today = ctx.today(now)
    come = [o for o in offs if o.last_day <= today]
    for off in come:
        off.status = OffboardingStatus.CARRYING_OUT
    audit.record_many(
        session,
        [
            event(ctx, o, "last_day", rule="§8.1", reason=f"sista arbetsdagen {o.last_day}")
            for o in come
        ],
    )
    later = [o for o in offs if o.last_day > today]
    for off in later:
        off.status = OffboardingStatus.WAITING
    if not later:
        return NOT_WAITING
    return Wait(
        True,
        f"sista-dagen-{lead(session, ids).wait_round}",
        notices.last_day_form(later, municipality=ctx.municipality),
    )


def to_wake(session: Session, *, ctx: AskContext, now: datetime) -> list[Wake]:
    """Runs waiting for a last day that has come (one wake per run)."""
    rows = session.execute(
        select(Offboarding.id, Offboarding.flow_run_id)
        .where(
            Offboarding.municipality_id == ctx.municipality_id,
            Offboarding.status == OffboardingStatus.WAITING,
            Offboarding.last_day <= now.astimezone(ctx.tz).date(),
            Offboarding.flow_run_id.is_not(None),
        )
        .order_by(Offboarding.id)
    ).all()
    runs = dict.fromkeys(str(run_id) for _, run_id in rows)
    return [Wake(None, run_id, {"note": ""}) for run_id in runs]
