"""`telefoni attest` and `telefoni answer` on a register the steps left as a run leaves it
(both engines): the asks exist and their codes are mailed; the terminal answers them with the
code, as the run's form does. Refusals are committed (a wrong code counts), and the run that
waits is woken later by the reminders watch when Prefect does not answer now. `telefoni audit
show --employee` then tells the offboarding's story."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from models.asks import Ask
from models.base import utcnow
from models.offboarding import (
    ChecklistItem,
    Disposition,
    Offboarding,
    OffboardingItem,
    OffboardingStatus,
)
from models.register import Employee
from tasks.offboarding.attested import CHECKLIST, ask_to_attest
from tasks.offboarding.base import Context, context_from
from tasks.offboarding.confirmed import PLAN, ask_to_confirm
from tasks.offboarding.planned import plan
from tasks.offboarding.recorded import record_starts
from tasks.offboarding.requested import receive
from tasks.offboarding.waiting import wait_for_last_day
from telefoni.cli import app
from telefoni.core import migrate
from telefoni.core.settings import get_settings
from telefoni.core.tenancy import municipality_id
from tests.conftest import ENGINES
from tests.factories import code_of
from tests.flows.offboarding_helpers import Leaver, leaver, request

DOWN = "http://127.0.0.1:9/api"  # no Prefect here: the waiting run is woken later


@pytest.fixture(params=ENGINES)
def register(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_empty_database: Callable[[str], AbstractContextManager[Engine]],
) -> Iterator[Engine]:
    """A fresh register the command uses through the TELEFONI_* environment, as it would."""
    with make_empty_database(request.param) as engine:
        migrate.upgrade(engine)
        monkeypatch.setenv("TELEFONI_ENVIRONMENT", "test")
        monkeypatch.setenv("TELEFONI_DATA_DIR", str(tmp_path))
        monkeypatch.setenv(
            "TELEFONI_DATABASE_URL", engine.url.render_as_string(hide_password=False)
        )
        monkeypatch.setenv("PREFECT_API_URL", DOWN)
        get_settings.cache_clear()
        try:
            yield engine
        finally:
            get_settings.cache_clear()


def telefoni(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _ctx(session: Session) -> Context:
    settings = get_settings()
    municipality = settings.kommun(None)
    return context_from(settings, None, municipality, municipality_id(session, municipality))


@dataclass(frozen=True)
class Asked:
    who: Leaver
    ask: str  # the reference of the ask the test answers
    ask_id: int
    run_id: str


def _ask_of(session: Session, kind: str, number: str) -> Ask:
    return session.scalars(
        select(Ask)
        .join(Employee, Employee.id == Ask.assignee_id)
        .where(Ask.kind == kind, Employee.employee_number == number)
    ).one()


def _the_run_waits(session: Session, ids: list[int]) -> str:
    """The offboardings as a run carries them (the asks point at it; nothing here runs it)."""
    run_id = str(uuid4())
    for off in session.scalars(select(Offboarding).where(Offboarding.id.in_(ids))):
        off.flow_run_id = run_id
    return run_id


@pytest.fixture
def checklist(register: Engine) -> Asked:
    """HR's offboarding on its last day: planned, carried out, its owners asked to attest."""
    who = leaver(register)
    now = utcnow()
    with Session(register) as session, session.begin():
        ctx = _ctx(session)
        ids = [
            receive(session, request(who, last_day=date.today()), ctx=ctx, now=now).offboarding_id
        ]
        run_id = _the_run_waits(session, ids)
        plan(session, ids, ctx=ctx, now=now)
        wait_for_last_day(session, ids, ctx=ctx, now=now)
        assert ask_to_attest(session, ids, ctx=ctx, now=now).waiting
        ask = _ask_of(session, CHECKLIST.name, who.wp.manager)
        return Asked(who, ask.reference, ask.id, run_id)


@pytest.fixture
def confirmation(register: Engine) -> Asked:
    """The sync's offboarding of a leaver: planned as everything terminated, the manager asked."""
    who = leaver(register)
    now = utcnow()
    with Session(register) as session, session.begin():
        ctx = _ctx(session)
        person = session.scalars(
            select(Employee).where(Employee.employee_number == who.number)
        ).one()
        ids = record_starts(
            session,
            municipality_id=ctx.municipality_id,
            window_days=ctx.window_days,
            today=date.today(),
            removed=[person.id],
            actor=ctx.actor,
        )
        run_id = _the_run_waits(session, ids)
        plan(session, ids, ctx=ctx, now=now)
        assert ask_to_confirm(session, ids, ctx=ctx, now=now).waiting
        ask = _ask_of(session, PLAN.name, who.wp.manager)
        return Asked(who, ask.reference, ask.id, run_id)


def _ask(engine: Engine, ask_id: int) -> Ask:
    with Session(engine) as session:
        return session.get_one(Ask, ask_id)


def _checklist(engine: Engine, ask_id: int) -> list[ChecklistItem]:
    with Session(engine) as session:
        return list(session.scalars(select(ChecklistItem).where(ChecklistItem.ask_id == ask_id)))


def test_attest_refuses_a_stranger_and_a_wrong_code_then_takes_the_managers(
    register: Engine, checklist: Asked
) -> None:
    wp, ref = checklist.who.wp, checklist.ask

    stranger = telefoni("attest", ref, "--as", wp.other_manager, "--code", "1234 5678")
    assert stranger.exit_code == 1
    assert f"{wp.other_manager} kan inte intyga detta: det gör {wp.manager}" in stranger.stderr

    wrong = telefoni("attest", ref, "--as", wp.manager, "--code", "0000 0000")
    assert wrong.exit_code == 1
    assert "Fel engångskod: svaret registrerades inte. 4 försök kvar" in wrong.stderr
    assert _ask(register, checklist.ask_id).failed_attempts == 1  # committed with the refusal

    mixed = telefoni("answer", ref, "--as", wp.manager, "--confirm")
    assert mixed.exit_code == 2 and "är en checklista att intyga" in mixed.stderr

    code = code_of(register, wp.municipality_id, wp.manager, about="intyga")
    done = telefoni("attest", ref, "--as", wp.manager, "--code", code)

    assert done.exit_code == 0, done.stderr
    assert ": intygat." in done.stdout
    assert (
        "telefonen fabriksåterställd" in done.stdout and f"intygat av {wp.manager}" in done.stdout
    )
    assert "påminnelsekörningen (reminders) väcker den, inom en timme" in done.stdout
    assert f"/runs/flow-run/{checklist.run_id}" in done.stdout
    items = _checklist(register, checklist.ask_id)
    assert items and all(c.attested_by == wp.manager and c.attested_at for c in items)
    ask = _ask(register, checklist.ask_id)
    assert ask.answered_by == wp.manager and ask.woken_at is None  # the watch wakes it

    story = telefoni("audit", "show", "--employee", checklist.who.number)
    assert story.exit_code == 0, story.stderr
    lines = story.stdout.splitlines()
    actions = [line.split(" | ")[3] for line in lines[1:]]
    assert actions[:2] == ["offboarding.recorded", "offboarding.planned"]
    assert {"offboarding.last_day", "offboarding.attested", "ask.answered"} <= set(actions)
    assert actions.index("ask.wrong_code") < actions.index("offboarding.attested")


def test_answer_change_refuses_what_is_not_the_plans_then_takes_the_managers_change(
    register: Engine, confirmation: Asked
) -> None:
    who, ref = confirmation.who, confirmation.ask
    wp = who.wp
    hand_over = f"{who.numbers[0]}=lämnas över:{who.successor}"

    result = telefoni("answer", ref, "--as", wp.manager)
    assert result.exit_code == 2 and "ange --confirm" in result.stderr
    result = telefoni("answer", ref, "--as", wp.manager, "--change", "070-000 00 00=sägs upp")
    assert result.exit_code == 2
    assert "070-000 00 00 är inget av numren i avslutet" in result.stderr
    result = telefoni(
        "answer", ref, "--as", wp.manager, "--change", f"{who.numbers[0]}=lämnas över"
    )
    assert result.exit_code == 2 and "ingen efterträdare är angiven" in result.stderr
    result = telefoni("attest", ref, "--as", wp.manager)
    assert result.exit_code == 2 and "är en bekräftelse av avslutet" in result.stderr

    stranger = telefoni(
        "answer", ref, "--as", wp.other_manager, "--code", "1", "--change", hand_over
    )
    assert stranger.exit_code == 1
    assert f"{wp.other_manager} kan inte bekräfta avslutet" in stranger.stderr
    wrong = telefoni(
        "answer", ref, "--as", wp.manager, "--code", "0000 0000", "--change", hand_over
    )
    assert wrong.exit_code == 1 and "Fel engångskod" in wrong.stderr
    assert _ask(register, confirmation.ask_id).failed_attempts == 1

    code = code_of(register, wp.municipality_id, wp.manager)
    done = telefoni("answer", ref, "--as", wp.manager, "--code", code, "--change", hand_over)

    assert done.exit_code == 0, done.stderr
    assert ": ändrat." in done.stdout
    with Session(register) as session:
        (off,) = session.scalars(select(Offboarding))
        (item,) = session.scalars(select(OffboardingItem))
        successor = session.scalars(
            select(Employee).where(Employee.employee_number == who.successor)
        ).one()
        assert off.status is OffboardingStatus.WAITING and off.successor_id == successor.id
        assert (item.disposition, item.disposition_by) == (Disposition.HAND_OVER, wp.manager)
