"""started: the runs that carry recorded offboardings, made from the records, once.

The sync records its starts in the register; runs are made from those records afterwards —
right after the sync, and again by every reminders watch — so a sync that ran while the
Prefect server was down loses none. The leavers whose last day is the same share a run (500
summer workers: one run, each manager asked once about theirs, each employee about their
own). Each run's key is stored on its records before the run is made and is the run's
Prefect idempotency key: a crash between the two makes the same run again, never a second.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.offboarding import Offboarding, OffboardingStatus
from models.register import Employee

BATCH_DEPLOYMENT = "offboarding-batch/offboarding-batch"
SINGLE_DEPLOYMENT = "offboarding/offboarding"
MAX_PER_RUN = 500  # references in one run's parameters (Prefect refuses over 512 KiB)


@dataclass(frozen=True)
class ToStart:
    """A run to make: its key, its name in the UI and the offboardings it carries."""

    key: str
    name: str
    references: tuple[str, ...]


def run_name(code: str, numbers: Sequence[str]) -> str:
    """What the UI calls the run: whose it is, by employee number (never a personnummer)."""
    if len(numbers) == 1:
        return f"avslut-{code}-{numbers[0]}"
    return f"avslut-{code}-{numbers[0]}-m.fl.-{len(numbers)}-anställda"


def to_start(session: Session, *, municipality_id: int, code: str) -> list[ToStart]:
    """The runs to make for the municipality's recorded offboardings that have none: those with
    a key from before (a start cut short) under it again, the rest grouped by last day, their
    keys stored now (commit before making the runs)."""
    rows = session.execute(
        select(
            Offboarding.id,
            Offboarding.run_key,
            Offboarding.last_day,
            Employee.employee_number,
        )
        .join(Employee, Employee.id == Offboarding.employee_id)
        .where(
            Offboarding.municipality_id == municipality_id,
            Offboarding.flow_run_id.is_(None),
            Offboarding.status != OffboardingStatus.COMPLETED,
        )
        .order_by(Offboarding.id)
    ).all()
    groups: dict[object, list[tuple[int, str]]] = {}
    for off_id, key, last_day, number in rows:
        group: object = key or last_day
        groups.setdefault(group, []).append((off_id, number))
    made: list[ToStart] = []
    for group, members in groups.items():
        for start in range(0, len(members), MAX_PER_RUN):
            chunk = members[start : start + MAX_PER_RUN]
            ids = [i for i, _ in chunk]
            key = group if isinstance(group, str) else _key(code, ids[0], _day(group))
            if not isinstance(group, str):
                session.execute(
                    update(Offboarding).where(Offboarding.id.in_(ids)).values(run_key=key)
                )
            made.append(
                ToStart(
                    key,
                    run_name(code, [n for _, n in chunk]),
                    tuple(f"AVS-{i:06d}" for i in ids),
                )
            )
    return made


def _day(group: object) -> date:
    assert isinstance(group, date)
    return group


def _key(code: str, first_id: int, last_day: date) -> str:
    return f"telefoni-offboarding-{code}-{first_id}-{last_day:%Y%m%d}"


def started(session: Session, key: str, flow_run_id: str, name: str) -> None:
    """The run under `key` exists: its records carry it from now on."""
    session.execute(
        update(Offboarding)
        .where(Offboarding.run_key == key, Offboarding.flow_run_id.is_(None))
        .values(flow_run_id=flow_run_id, run_name=name)
    )


MakeRun = Callable[[ToStart, str], str]  # (what, municipality code) → the run's id


def start_recorded(
    session_factory: Callable[[], Session], *, municipality_id: int, code: str, make_run: MakeRun
) -> int:
    """Make the runs of the municipality's recorded offboardings; returns how many were made
    (an error making one is raised after the keys are stored: the next call goes on)."""
    with session_factory() as session, session.begin():
        todo = to_start(session, municipality_id=municipality_id, code=code)
    for what in todo:
        run_id = make_run(what, code)
        with session_factory() as session, session.begin():
            started(session, what.key, run_id, what.name)
    return len(todo)
