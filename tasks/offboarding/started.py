"""started: the runs that carry recorded offboardings, made from the records, once.

The sync records its starts in the register; runs are made from those records afterwards —
right after the sync, and again by every reminders watch — so a sync that ran while the
Prefect server was down loses none. The leavers whose last day is the same share a run (500
summer workers: one run, each manager asked once about theirs, each employee about their
own). Each run's key is stored on its records before the run is made and is the run's
Prefect idempotency key: a crash between the two makes the same run again, never a second.
The key ends in a random part, drawn once and stored: Prefect keeps a key for ever, and a
register made anew (the demo, a test) counts its offboardings from 1 again; its runs must not
be taken for the old ones.

One start at a time per municipality (`exclusive_run`): the sync's and the reminders watch's
would otherwise both group the same records under keys of their own.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Engine, and_, func, select, update
from sqlalchemy.orm import Session

from models.offboarding import Offboarding, OffboardingStatus, Source
from models.register import Employee
from models.wording import counted
from telefoni.core.locks import exclusive_run

log = logging.getLogger(__name__)

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
        .where(_without_run(municipality_id))
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


def _without_run(municipality_id: int) -> ColumnElement[bool]:
    """SQL: the municipality's offboardings the sync recorded that no run carries yet (HR's
    are carried by the run HR started, which takes them over as soon as it has stored them)."""
    return and_(
        Offboarding.municipality_id == municipality_id,
        Offboarding.source == Source.SYNC,
        Offboarding.flow_run_id.is_(None),
        Offboarding.status != OffboardingStatus.COMPLETED,
    )


def without_run(session: Session, municipality_id: int) -> int:
    """How many of the municipality's recorded offboardings wait for a run."""
    return (
        session.scalar(
            select(func.count()).select_from(Offboarding).where(_without_run(municipality_id))
        )
        or 0
    )


def _day(group: object) -> date:
    assert isinstance(group, date)
    return group


def _key(code: str, first_id: int, last_day: date) -> str:
    return f"telefoni-offboarding-{code}-{first_id}-{last_day:%Y%m%d}-{secrets.token_hex(6)}"


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


@dataclass(frozen=True)
class Started:
    """What a start did: runs made, offboardings still without one, and why (None: none
    failed)."""

    made: int = 0
    waiting: int = 0
    error: str | None = None

    def __add__(self, other: Started) -> Started:
        errors = [e for e in (self.error, other.error) if e]
        return Started(
            self.made + other.made, self.waiting + other.waiting, "; ".join(errors) or None
        )

    @property
    def warning(self) -> str | None:
        """What to tell the admin if runs are left for later, in Swedish (None: nothing)."""
        if not self.error:
            return None
        verb = "registrerat" if self.waiting == 1 else "registrerade"
        return (
            f"{counted(self.waiting, 'avslut', 'avslut')} är {verb}; körningarna startas av "
            f"reminders ({self.error})"
        )


def start_municipality(
    engine: Engine, *, municipality_id: int, code: str, make_run: MakeRun
) -> Started:
    """The municipality's recorded offboardings' runs made, one start at a time; an error
    making them (a Prefect server out of reach, a deployment missing) is told, not raised:
    the records stay, and the next start (the reminders watch, hourly) makes their runs."""
    with exclusive_run(engine, f"offboarding-start:{code}") as mine:
        if not mine:
            log.info("Avsluten för %s startas redan av en annan körning.", code)
            return Started()
        made: list[str] = []

        def counted_run(what: ToStart, code: str) -> str:
            made.append(make_run(what, code))
            return made[-1]

        try:
            start_recorded(
                lambda: Session(engine),
                municipality_id=municipality_id,
                code=code,
                make_run=counted_run,
            )
        except Exception as exc:  # whatever it was, the records are kept for the next start
            with Session(engine) as session:
                waiting = without_run(session, municipality_id)
            return Started(len(made), waiting, f"{type(exc).__name__}: {str(exc)[:200]}")
    return Started(len(made))
