"""`telefoni offboard` and `telefoni attest` against the test harness (both engines): HR's
start makes one run of the offboarding deployment, found again by every later start of the
same employment end; an attestation in the terminal wakes the run that waits for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from flows.offboarding import offboarding
from models.asks import Ask
from models.offboarding import OffboardingStatus
from models.register import Employee
from tasks.offboarding.attested import CHECKLIST
from telefoni.cli import app
from telefoni.core.settings import get_settings
from telefoni.up import load_deployments
from tests.cli import telefoni
from tests.factories import code_of
from tests.flows.offboarding_helpers import leaver, offboardings, request, wait_for_waiting
from tests.flows.onboarding_helpers import Background, read_run
from tests.integration.operator_stand_in import OperatorStandIn

DOWN = "http://127.0.0.1:9/api"  # a loopback port nothing listens on


def api() -> str:
    url = PREFECT_API_URL.value()
    assert url, "the test harness sets the API URL"
    return str(url)


@pytest.fixture
def deployment() -> Iterator[UUID]:
    """The offboarding deployment on the harness, with no worker: its runs stay scheduled.
    Deleted afterwards, with its runs (their idempotency keys with them)."""
    # As `telefoni up` serves it: its run form (municipalities by name) enforced.
    (deployment,) = [d for d in load_deployments() if d.name == "offboarding"]
    made = deployment.apply()
    assert isinstance(made, UUID)
    yield made
    with get_client(sync_client=True) as client:
        client.delete_deployment(made)


def runs_of(deployment: UUID) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
        )


def in_process(monkeypatch: pytest.MonkeyPatch, *args: str, url: str) -> Result:
    monkeypatch.setenv("PREFECT_API_URL", url)  # the command sets it; undone after the test
    return CliRunner().invoke(app, list(args))


def test_offboard_makes_one_run_and_a_second_start_finds_it(
    flow_db: Engine, deployment: UUID
) -> None:
    who = leaver(flow_db)
    code = get_settings().kommun(None).code
    start = ("offboard", who.number, "--last-day", str(date.today() + timedelta(days=10)))

    first = telefoni(*start, "--started-by", "HR1", engine=flow_db, PREFECT_API_URL=api())

    assert first.returncode == 0, first.stderr
    (off,) = offboardings(flow_db)
    assert off.flow_run_id and off.run_key and off.run_name == f"avslut-{code}-{who.number}"
    run = read_run(off.flow_run_id)
    assert run.name == f"avslut-{code}-{who.number}" and run.deployment_id == deployment
    assert run.idempotency_key == off.run_key
    assert (
        set(run.parameters) == {"request", "kommun"}
        and run.parameters["kommun"] == "Hallsbergs kommun"
    )
    assert run.parameters["request"]["employee_number"] == who.number
    assert f"Avslutet {off.reference} för {who.number}" in first.stdout
    assert f"/runs/flow-run/{run.id}" in first.stdout

    again = telefoni(*start, "--started-by", "HR1", engine=flow_db, PREFECT_API_URL=api())

    assert again.returncode == 0, again.stderr
    assert f"hanteras redan av körningen {run.id}" in again.stdout
    assert "Den här starten ändrade ingenting." in again.stdout
    assert [r.id for r in runs_of(deployment)] == [run.id]
    assert len(offboardings(flow_db)) == 1


def test_moving_the_last_day_changes_the_record_and_keeps_one_run(
    flow_db: Engine, deployment: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = leaver(flow_db)
    first_day, moved = date.today() + timedelta(days=10), date.today() + timedelta(days=3)
    first = in_process(monkeypatch, "offboard", who.number, "--last-day", str(first_day), url=api())
    assert first.exit_code == 0, first.stderr

    second = in_process(monkeypatch, "offboard", who.number, "--last-day", str(moved), url=api())

    assert second.exit_code == 0, second.stderr
    assert f"Ändrat nu: sista arbetsdag {first_day} → {moved}." in second.stdout
    (off,) = offboardings(flow_db)
    assert off.last_day == moved
    (run,) = runs_of(deployment)
    assert str(run.id) == off.flow_run_id  # which, when it wakes, reads the day from the record


def test_a_server_out_of_reach_keeps_the_record_and_the_same_command_later_starts_it(
    flow_db: Engine, deployment: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = leaver(flow_db)
    start = ("offboard", who.number, "--last-day", str(date.today()))

    down = in_process(monkeypatch, *start, url=DOWN)

    assert down.exit_code == 1
    assert f"Prefect-servern svarar inte på {DOWN}" in down.stderr
    assert "är registrerat men ingen körning är startad" in down.stderr
    assert "Traceback" not in down.stderr
    (off,) = offboardings(flow_db)
    assert off.run_key and off.flow_run_id is None
    assert runs_of(deployment) == []

    up = in_process(monkeypatch, *start, url=api())

    assert up.exit_code == 0, up.stderr
    (off,) = offboardings(flow_db)
    (run,) = runs_of(deployment)
    assert off.flow_run_id == str(run.id) and run.idempotency_key == off.run_key


def test_what_offboard_refuses_names_the_option_and_starts_nothing(
    flow_db: Engine, deployment: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = leaver(flow_db)
    today = str(date.today())

    def refused(*args: str) -> str:
        result = in_process(monkeypatch, "offboard", *args, url=api())
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.stderr
        return result.stderr

    assert "--last-day: saknas" in refused(who.number)
    assert "--last-day: '30/6' är inget datum" in refused(who.number, "--last-day", "30/6")
    assert "finns inte i registret" in refused("X99999", "--last-day", today)
    said = refused(who.number, "--last-day", today, "--successor", who.number)
    assert "--successor: §8.1: efterträdaren kan inte vara den som slutar" in said
    said = refused(who.number, "--last-day", today, "--hand-over", who.numbers[0])
    assert "--terminate/--hand-over/--takeover: §8.1:" in said
    assert "ingen efterträdare är angiven" in said
    said = refused(who.number, "--last-day", today, "--takeover", "070-000 00 00")
    assert "inte ett av den anställdas nummer" in said
    assert offboardings(flow_db) == [] and runs_of(deployment) == []


def _checklist_ask(engine: Engine, number: str) -> str:
    with Session(engine) as session:
        return (
            session.scalars(
                select(Ask)
                .join(Employee, Employee.id == Ask.assignee_id)
                .where(Ask.kind == CHECKLIST.name, Employee.employee_number == number)
            )
            .one()
            .reference
        )


def test_attest_in_the_terminal_wakes_the_waiting_run(
    flow_db: Engine, operator: OperatorStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = leaver(flow_db)
    run = Background(offboarding, request(who))
    run_id = wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT)
    municipality = who.wp.municipality_id

    for number, round_ in ((who.number, 2), (who.wp.manager, 3)):  # passcode; returned, reset
        code = code_of(flow_db, municipality, number, about="intyga")
        ref = _checklist_ask(flow_db, number)
        done = in_process(monkeypatch, "attest", ref, "--as", number, "--code", code, url=api())
        assert done.exit_code == 0, done.stderr
        assert "påminnelsekörningen" not in done.stdout  # woken now
        assert f"/runs/flow-run/{run_id}" in done.stdout
        if round_ == 2:
            wait_for_waiting(flow_db, OffboardingStatus.CARRYING_OUT, round=round_)

    assert run.join() == {"avslut": 1, "klara": 1}
    (off,) = offboardings(flow_db)
    assert off.status is OffboardingStatus.COMPLETED
