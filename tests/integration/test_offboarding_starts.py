"""The sync's starts recorded (`record_starts`) and grouped into runs (`to_start`), on both
engines, inside a rolled-back transaction: no Prefect."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.offboarding import Offboarding, Source
from models.personnummer import PersonnummerVault
from models.register import Employee, SubscriptionStatus
from tasks.offboarding.recorded import _stored, record_starts
from tasks.offboarding.started import started, to_start, without_run
from tests import factories

TODAY = date(2026, 11, 28)
SYNC_ACTOR = Actor.system("directory-sync")


def holding(session: Session, vault: PersonnummerVault, **fields: Any) -> Employee:
    """An employee with an active personal number of the employer's."""
    person = factories.employee(session, vault, **fields)
    factories.personal_subscription(session, person, status=SubscriptionStatus.ACTIVE)
    return person


def starts(session: Session, municipality_id: int, removed: list[int]) -> list[int]:
    return record_starts(
        session,
        municipality_id=municipality_id,
        window_days=14,
        today=TODAY,
        removed=removed,
        actor=SYNC_ACTOR,
    )


def test_leavers_of_one_day_share_a_run_whoever_their_manager(
    session: Session, vault: PersonnummerVault
) -> None:
    """Summer workers: two leaving the same day are one run of two, whoever their managers
    (each is asked about their own); a leaver of another day is a run of its own; a second
    grouping finds nothing new."""
    home = factories.municipality(session)
    unit, cc = factories.unit_and_cost_centre(session, home)
    where: dict[str, Any] = {"unit_id": unit.id, "cost_centre_id": cc.id}
    boss, other_boss = (factories.employee(session, vault, **where) for _ in range(2))
    end = {"employment_end": TODAY + timedelta(days=10)}
    first = holding(session, vault, manager_id=boss.id, **where, **end)
    second = holding(session, vault, manager_id=other_boss.id, **where, **end)
    later = {"employment_end": TODAY + timedelta(days=12)}
    third = holding(session, vault, manager_id=boss.id, **where, **later)

    ids = starts(session, home, [])
    assert len(ids) == 3

    runs = to_start(session, municipality_id=home, code="hallsberg")
    by_size = sorted(runs, key=lambda r: len(r.references))
    assert [len(r.references) for r in by_size] == [1, 2]
    alone, pair = by_size
    assert alone.name == f"avslut-hallsberg-{third.employee_number}"
    assert pair.name == (f"avslut-hallsberg-{first.employee_number}-m.fl.-2-anställda")
    assert pair.key != alone.key and all(r.key.startswith("telefoni-offboarding-") for r in runs)
    # The keys are stored before any run is made: asked again, the same runs under them.
    again = to_start(session, municipality_id=home, code="hallsberg")
    assert sorted(again, key=lambda r: r.key) == sorted(runs, key=lambda r: r.key)
    for run in runs:
        started(session, run.key, f"run-{run.key[-12:]}", run.name)
    assert to_start(session, municipality_id=home, code="hallsberg") == []
    assert without_run(session, home) == 0
    assert second.id in {o.employee_id for o in session.scalars(select(Offboarding))}


def test_the_sync_starts_once_per_employment_for_whoever_holds_something(
    session: Session, vault: PersonnummerVault
) -> None:
    """In the window and holding a number: started; outside it, or holding nothing: not; a
    leaver removed now: started with today as the last day; the same again: none."""
    home = factories.municipality(session)
    soon = holding(session, vault, employment_end=TODAY + timedelta(days=10))
    later = holding(session, vault, employment_end=TODAY + timedelta(days=30))
    empty_handed = factories.employee(session, vault, employment_end=TODAY + timedelta(days=3))
    gone = holding(session, vault, employment_end=TODAY + timedelta(days=60))

    ids = starts(session, home, [gone.id, empty_handed.id])

    made = {o.employee_id: o for o in session.scalars(select(Offboarding))}
    assert set(made) == {soon.id, gone.id} and len(ids) == 2
    assert made[soon.id].last_day == TODAY + timedelta(days=10)
    assert made[gone.id].last_day == TODAY
    assert {o.source for o in made.values()} == {Source.SYNC}
    assert later.id not in made
    assert starts(session, home, [gone.id]) == []


def test_a_start_hr_stored_meanwhile_is_kept_and_the_rest_go_on(
    session: Session, vault: PersonnummerVault
) -> None:
    """HR stored the same employment's start at the same moment (the unique employment): the
    sync's insert keeps HR's and stores its others, in the same transaction."""
    from tasks.offboarding.recorded import _sync_start

    home = factories.municipality(session)
    one, two = (holding(session, vault) for _ in range(2))
    hr = _sync_start(home, one.id, one.employment_start, None, TODAY, gone=True)
    hr.source, hr.started_by = Source.HR, "HR1"
    session.add(hr)
    session.flush()

    kept = _stored(
        session,
        [_sync_start(home, p.id, p.employment_start, None, TODAY, gone=True) for p in (one, two)],
    )

    assert [o.employee_id for o in kept] == [two.id]
    rows = session.scalars(select(Offboarding).order_by(Offboarding.id)).all()
    assert [(o.employee_id, o.source) for o in rows] == [(one.id, Source.HR), (two.id, Source.SYNC)]
