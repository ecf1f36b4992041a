"""recorded: the offboardings the nightly sync starts, recorded in its own transaction.

For every employment of the municipality that ends within its window, and for every leaver the
sync removes, who holds a subscription or a phone and has no offboarding for that employment
yet. Only the records are written here; the runs that carry them are made from the records
after the sync has committed (`tasks.offboarding.started`). Light on imports: the sync (and
`telefoni sync`) import it, and need no Prefect.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import audit
from models.audit import Actor, AuditRecord
from models.offboarding import OBJECT_TYPE, Offboarding, OffboardingStatus, Source
from models.register import Device, DeviceStatus, Employee, Subscription, SubscriptionStatus

SYNC = "sync"
HOLDING = (SubscriptionStatus.ORDERED, SubscriptionStatus.ACTIVE, SubscriptionStatus.BLOCKED)
HELD = (DeviceStatus.ORDERED, DeviceStatus.IN_USE)


def holds_something(employee_id: object) -> object:
    """SQL: the employee holds a personal subscription or a phone of the employer's."""
    return or_(
        exists().where(
            Subscription.owner_id == employee_id,
            Subscription.status.in_(HOLDING),
        ),
        exists().where(Device.holder_id == employee_id, Device.status.in_(HELD)),
    )


def record_starts(
    session: Session,
    *,
    municipality_id: int,
    window_days: int,
    today: date,
    removed: Sequence[int] = (),
    actor: Actor,
    flow_run_id: str | None = None,
) -> list[int]:
    """The sync's starts, in its transaction: an offboarding for each employment of the
    municipality that ends within `window_days` (or ended within them), and for each leaver
    the sync removes now (`removed`: their employee ids), who holds a subscription or a phone
    and has none for that employment yet. Its default for everything is terminate; the
    manager is asked to confirm or change it. Returns the new offboardings' ids."""
    window = timedelta(days=window_days)
    e = Employee
    started = exists().where(
        Offboarding.employee_id == e.id, Offboarding.employment_start == e.employment_start
    )
    ending = and_(
        e.employment_end.is_not(None), e.employment_end.between(today - window, today + window)
    )
    gone = sorted(set(removed))
    found: dict[int, tuple[date, date | None]] = {}
    # The window's people in one read; the leavers by id, a chunk at a time (the engines'
    # limits on bound parameters).
    for which in [ending, *(e.id.in_(gone[i : i + _IDS]) for i in range(0, len(gone), _IDS))]:
        rows = session.execute(
            select(e.id, e.employment_start, e.employment_end).where(
                e.municipality_id == municipality_id,
                which,
                ~started,
                holds_something(e.id),  # type: ignore[arg-type]
            )
        )
        found.update((emp_id, (start, end)) for emp_id, start, end in rows)
    if not found:
        return []
    made = [
        _sync_start(municipality_id, emp_id, start, end, today, gone=emp_id in removed)
        for emp_id, (start, end) in sorted(found.items())
    ]
    made = _stored(session, made)
    audit.record_many(
        session,
        [
            AuditRecord(
                actor=actor,
                action="offboarding.recorded",
                object_type=OBJECT_TYPE,
                object_id=off.reference,
                reason=off.reason,
                rule="§8.1",
                flow_run_id=flow_run_id,
                municipality_id=municipality_id,
            )
            for off in made
        ],
    )
    return [off.id for off in made]


_IDS = 5000  # employee ids per IN (...) list


def _sync_start(
    municipality_id: int, emp_id: int, start: date, end: date | None, today: date, *, gone: bool
) -> Offboarding:
    """The sync's offboarding of an employment: ending on its last day, or (gone from the
    export) today at the latest; terminate everything unless the manager says otherwise."""
    return Offboarding(
        municipality_id=municipality_id,
        employee_id=emp_id,
        employment_start=start,
        last_day=(min(end, today) if end else today) if gone or end is None else end,
        source=Source.SYNC,
        started_by=SYNC,
        reason="finns inte längre i HR-exporten"
        if gone
        else f"anställningen slutar {end} enligt HR-exporten",
        status=OffboardingStatus.RECORDED,
        wanted={},
        wait_round=1,
    )


def _stored(session: Session, made: list[Offboarding]) -> list[Offboarding]:
    """The sync's offboardings inserted; if HR started one of the same employments meanwhile
    (the unique employment), each is tried alone and HR's stays: the sync's transaction goes
    on either way."""
    try:
        with session.begin_nested():
            session.add_all(made)
            session.flush()
        return made
    except IntegrityError:
        pass
    kept = []
    for off in made:
        fresh = Offboarding(
            **{k: getattr(off, k) for k in _START_FIELDS},
        )
        try:
            with session.begin_nested():
                session.add(fresh)
                session.flush()
        except IntegrityError:
            continue
        kept.append(fresh)
    return kept


_START_FIELDS = (
    "municipality_id",
    "employee_id",
    "employment_start",
    "last_day",
    "source",
    "started_by",
    "reason",
    "status",
    "wanted",
    "wait_round",
)
