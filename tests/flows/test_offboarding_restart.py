"""Killed mid-flow and run again: the termination that reached the operator before the crash
is not sent twice, and nothing of the checklist or the mails is made twice.

The offboarding deployment is served, as `telefoni up` serves it, by a process of its own. The
operator records the termination and keeps the answer back; the serving process is killed
right then (the termination was sent, the register does not know). The run is retried, as an
admin retries a crashed run in the UI, and a new process serves it.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Crashed, Scheduled
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import offboarding_notices as notices
from models.base import utcnow
from models.offboarding import ChecklistItem, ItemStatus, OffboardingItem, OffboardingStatus
from models.outbox import OutboxMessage
from tasks.offboarding.base import context_from
from tasks.offboarding.requested import receive
from tasks.offboarding.waiting import to_wake as last_days
from tasks.people.waking import Woke, wake
from telefoni.core.settings import get_settings
from tests.factories import code_of
from tests.flows.offboarding_helpers import leaver, offboardings, request, wait_for_waiting
from tests.flows.onboarding_helpers import answer, read_run, wait_for_state
from tests.flows.serving import Served
from tests.integration.operator_stand_in import Fault, OperatorStandIn


def _until(check: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("never happened")


def _count(engine: Engine, model: type[object]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("flow_db", ["postgresql"], indirect=True)  # as in production (≈40 s)
def test_a_run_killed_after_the_termination_left_sends_it_no_second_time(
    flow_db: Engine, operator: OperatorStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEFONI_OPERATOR_TIMEOUT_SECONDS", "60")  # it waits; we kill it
    get_settings.cache_clear()
    operator.stall_seconds = 90
    operator.fail_next(Fault.TIMEOUT_AFTER)  # recorded at the operator, the answer held back
    who = leaver(flow_db)
    server = Served(["offboarding"])
    try:
        server.wait_until_served()
        started = run_deployment(
            "offboarding/offboarding",
            parameters={"request": request(who).model_dump(mode="json")},
            timeout=0,
        )
        assert isinstance(started, FlowRun)
        run_id = str(started.id)
        _until(lambda: len(operator.terminations) == 1)
        server.kill(forget=False)  # sent, not recorded: the process is gone
        (off,) = offboardings(flow_db)
        with Session(flow_db) as session:
            (item,) = session.scalars(select(OffboardingItem)).all()
        assert item.status is ItemStatus.TERMINATING
        checklist, mails = _count(flow_db, ChecklistItem), _count(flow_db, OutboxMessage)

        with get_client(sync_client=True) as client:  # as Prefect marks it, and the admin retries
            client.set_flow_run_state(UUID(run_id), Crashed(message="processen dog"), force=True)
            client.set_flow_run_state(UUID(run_id), Scheduled(), force=True)
        server = Served(["offboarding"])
        wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, timeout=180)
        (key,) = operator.terminations
        assert operator.termination_count(key) == 1  # looked up, not sent again
        assert _count(flow_db, ChecklistItem) == checklist
        assert _count(flow_db, OutboxMessage) == mails + 2  # the two checklist asks, once each

        mid = who.wp.municipality_id
        answer(run_id, attested_by=who.number, code=code_of(flow_db, mid, who.number, "intyga"))
        wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=2, timeout=180)
        code = code_of(flow_db, mid, who.wp.manager, "intyga")
        answer(run_id, attested_by=who.wp.manager, code=code)
        wait_for_state(run_id, "Completed", timeout=180)
    finally:
        server.kill()

    with Session(flow_db) as session:
        templates = list(session.scalars(select(OutboxMessage.template)))
    assert templates.count(notices.EMPLOYEE_LEAVING) == 1
    assert templates.count(notices.CONTACT_CENTRE) == 1
    assert operator.termination_count(key) == 1 and len(operator.terminations) == 1
    assert offboardings(flow_db)[0].status is OffboardingStatus.COMPLETED
    assert off.flow_run_id == run_id


@pytest.mark.parametrize("flow_db", ["sqlite"], indirect=True)
def test_waiting_for_the_last_day_holds_no_process_and_moves_with_the_day(
    flow_db: Engine, operator: OperatorStandIn
) -> None:
    """HR starts it a week ahead: the run suspends (no process waits). HR moves the last day
    to today; the hourly watch wakes the run, which carries it out."""
    who = leaver(flow_db)
    later = request(who, last_day=date.today() + timedelta(days=7))
    server = Served(["offboarding"])
    try:
        server.wait_until_served()
        started = run_deployment(
            "offboarding/offboarding",
            parameters={"request": later.model_dump(mode="json")},
            timeout=0,
        )
        assert isinstance(started, FlowRun)
        run_id = str(started.id)
        wait_for_waiting(flow_db, OffboardingStatus.WAITING, timeout=180)
        assert read_run(run_id).state.name == "Suspended"  # type: ignore[union-attr]
        server.wait_until_idle()  # no process of the run is left

        settings = get_settings()
        ctx = context_from(settings, None, settings.kommun(None), who.wp.municipality_id)
        with Session(flow_db) as session, session.begin():  # as `telefoni offboard` again
            moved = receive(session, request(who), ctx=ctx, now=utcnow())
        assert moved.changed and moved.flow_run_id == run_id
        with Session(flow_db) as session, session.begin():  # the watch, an hour later
            wakes = last_days(session, ctx=ctx.asking, now=utcnow())
        assert [w.flow_run_id for w in wakes] == [run_id]
        assert wake(run_id, wakes[0].run_input) is Woke.RESUMED
        wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, timeout=180)
    finally:
        server.kill()
    assert len(operator.terminations) == 1
    assert offboardings(flow_db)[0].last_day == date.today()
