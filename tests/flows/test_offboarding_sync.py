"""The nightly sync starts the offboardings of those who leave (issue #16, "Done when" 4),
under a real Prefect server: the `offboarding-batch` deployment exists and nobody serves it,
so each run it is given stays Scheduled and is counted, never carried out."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.directory_sync import directory_sync
from flows.reminders import reminders
from models.audit import Actor
from models.base import utcnow
from models.hr_export import read_hr_export
from models.offboarding import Offboarding, Source
from models.offboarding_forms import OffboardingRequest
from models.outbox import OutboxMessage
from models.register import Employee, SubscriptionStatus
from tasks.directory_sync import SyncReport, options_from, run_sync
from tasks.offboarding import started as starting
from tasks.offboarding.base import context_from
from tasks.offboarding.prefect_tasks import start_runs
from tasks.offboarding.requested import receive
from telefoni import demo
from telefoni.core.settings import get_settings
from telefoni.core.vault import vault_from
from telefoni.up import load_deployments
from tests import factories
from tests.flows.test_directory_sync_flow import artifacts_of, report_of

CODE = factories.HOME[0]


@pytest.fixture
def batch() -> Iterator[UUID]:
    """The `offboarding-batch` deployment, made anew for the test (a deleted deployment takes
    its runs with it: each test counts its own), served by nobody."""

    def delete() -> None:
        with get_client(sync_client=True) as client:
            try:
                found = client.read_deployment_by_name(starting.BATCH_DEPLOYMENT)
            except ObjectNotFound:
                return
            client.delete_deployment(found.id)

    delete()
    # As `telefoni up` serves it: its run form (municipalities by name) enforced.
    (deployment,) = [d for d in load_deployments() if d.name == "offboarding-batch"]
    made = deployment.apply()
    assert isinstance(made, UUID)
    yield made
    delete()


def runs_of(deployment_id: UUID) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )


@dataclass
class Town:
    """The settings' municipality's people, their HR export and a folder to write it in."""

    engine: Engine
    export: pd.DataFrame
    folder: Path
    municipality_id: int

    def staff(self) -> list[str]:
        """Employee numbers of people who manage nobody but have a manager (leaving changes
        nobody else's row), in the export's order."""
        managers = self.export["chef_anstallningsnummer"].tolist()
        bosses = set(managers)
        numbers = self.export["anstallningsnummer"].tolist()
        return [n for n, m in zip(numbers, managers, strict=True) if m and n not in bosses]

    def manager_of(self, number: str) -> str:
        row = self.export[self.export["anstallningsnummer"] == number].iloc[0]
        return str(row["chef_anstallningsnummer"])

    def give_a_number(self, *numbers: str) -> None:
        with Session(self.engine) as session, session.begin():
            for person in session.scalars(
                select(Employee).where(Employee.employee_number.in_(numbers))
            ):
                factories.personal_subscription(session, person, status=SubscriptionStatus.ACTIVE)

    def write(self, frame: pd.DataFrame, name: str) -> Path:
        path = self.folder / name
        frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
        return path

    def ending(self, number: str, day: date, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        hr = (self.export if frame is None else frame).copy()
        hr.loc[hr["anstallningsnummer"] == number, "anstallning_tom"] = day.isoformat()
        return hr

    def without(self, number: str, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        hr = self.export if frame is None else frame
        return hr[hr["anstallningsnummer"] != number]

    def offboardings(self, number: str | None = None) -> list[Offboarding]:
        with Session(self.engine) as session:
            stmt = select(Offboarding).join(Employee, Employee.id == Offboarding.employee_id)
            if number is not None:
                stmt = stmt.where(Employee.employee_number == number)
            return list(session.scalars(stmt.order_by(Offboarding.id)))


@pytest.fixture
def town(flow_db: Engine, tmp_path: Path) -> Town:
    generated = demo.generate(employees=60, seed=3, today=date.today())
    with Session(flow_db) as session, session.begin():
        home = factories.municipality(session)
        demo.load(session, generated, vault=vault_from(get_settings()), municipality_id=home)
    return Town(flow_db, demo.hr_export_frame(generated), tmp_path, home)


def synced(path: Path) -> SyncReport:
    return report_of(directory_sync(path=str(path), return_state=True))


def hr_starts(town: Town, number: str, last_day: date) -> None:
    """HR starts the same employee's offboarding by hand (what the `offboarding` flow's first
    step does), in a transaction of its own."""
    settings = get_settings()
    ctx = context_from(settings, None, settings.kommun(None), town.municipality_id)
    request = OffboardingRequest.model_validate(
        {"employee_number": number, "last_day": last_day, "started_by": "HR1"}
    )
    with Session(town.engine) as session, session.begin():
        got = receive(session, request, ctx=ctx, now=utcnow())
    assert not got.new  # the sync's is found


def test_the_sync_starts_one_run_per_leaver_and_never_a_second(town: Town, batch: UUID) -> None:
    """An end date 10 days ahead: exactly one run; the same export again: none more; an
    employee missing from the export: one more; HR starting one by hand as well: still one run
    and one offboarding for that employment."""
    ending, missing = town.staff()[:2]
    town.give_a_number(ending, missing)
    last_day = date.today() + timedelta(days=10)
    hr = town.ending(ending, last_day)
    path = town.write(hr, "hr-1.csv")

    first = directory_sync(path=str(path), return_state=True)
    report = report_of(first)

    assert report.offboardings_started == 1
    (run,) = runs_of(batch)
    assert run.name == f"avslut-{CODE}-{ending}"
    assert run.state is not None and run.state.is_scheduled()
    (off,) = town.offboardings()
    assert (off.source, off.last_day, off.flow_run_id) == (Source.SYNC, last_day, str(run.id))
    assert run.parameters == {
        "references": [off.reference],
        "kommun": "Hallsbergs kommun",
    }  # by name, as the served form offers it
    assert (
        "| avslut startade | 1 |"
        in artifacts_of(first.state_details.flow_run_id)[f"directory-sync-{CODE}"]
    )
    with Session(town.engine) as session:
        mail = session.scalars(select(OutboxMessage)).one()
    assert "1 avslut startat för personer som slutar" in mail.body_text

    again = synced(path)
    assert again.offboardings_started == 0
    assert [r.id for r in runs_of(batch)] == [run.id]

    gone = synced(town.write(town.without(missing, hr), "hr-2.csv"))
    assert (gone.leavers, gone.offboardings_started) == (1, 1)
    runs = runs_of(batch)
    assert len(runs) == 2
    assert {r.name for r in runs} == {f"avslut-{CODE}-{ending}", f"avslut-{CODE}-{missing}"}
    (left,) = town.offboardings(missing)
    assert left.last_day == date.today() and left.flow_run_id in {str(r.id) for r in runs}

    hr_starts(town, ending, last_day)
    assert start_runs([CODE]).made == 0
    assert len(runs_of(batch)) == 2
    assert len(town.offboardings(ending)) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_starts_recorded_while_prefect_is_down_are_made_later_once(town: Town, batch: UUID) -> None:
    """`telefoni sync` from a terminal with the Prefect server down: the sync records its
    starts (plain functions, no Prefect); making the runs fails and says so in Swedish; the
    reminders watch makes exactly one run per last day (two of different managers leaving the
    same day share one); a start after it none."""
    staff = town.staff()
    pair = (staff[0], next(n for n in staff if town.manager_of(n) != town.manager_of(staff[0])))
    alone = next(n for n in staff if n not in pair)
    town.give_a_number(*pair, alone)
    hr = town.export
    for number in pair:
        hr = town.ending(number, date.today() + timedelta(days=7), hr)
    hr = town.ending(alone, date.today() + timedelta(days=9), hr)
    path = town.write(hr, "hr.csv")
    settings = get_settings()
    municipality = settings.kommun(None)
    options = options_from(
        municipality,
        town.municipality_id,
        dry_run=False,
        allow_mass_removal=False,
        reason=None,
        actor=Actor.person("it.admin"),
        flow_run_id=None,
    )

    report = run_sync(lambda: read_hr_export(path), settings, options)
    assert report.offboardings_started == 3
    down = f"http://127.0.0.1:{closed_port()}/api"
    with temporary_settings(updates={PREFECT_API_URL: down, PREFECT_CLIENT_MAX_RETRIES: 0}):
        tried = start_runs([CODE])

    assert (tried.made, tried.waiting) == (0, 3)
    # Nor with no server named (Prefect would start a temporary one, and the runs made there
    # would be gone with it).
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        unnamed = start_runs([CODE])
    assert (unnamed.made, unnamed.waiting) == (0, 3)
    assert unnamed.warning is not None and "ingen Prefect-server är angiven" in unnamed.warning
    assert tried.warning is not None
    assert tried.warning.startswith("3 avslut är registrerade; körningarna startas av reminders")
    assert runs_of(batch) == []
    assert all(o.flow_run_id is None and o.run_key for o in town.offboardings())

    watched: dict[str, Any] = reminders()
    assert watched["startade avslutskörningar"] == 2
    runs = runs_of(batch)
    assert sorted(len(r.parameters["references"]) for r in runs) == [1, 2]
    assert {r.name for r in runs} == {
        f"avslut-{CODE}-{pair[0]}-m.fl.-2-anställda",
        f"avslut-{CODE}-{alone}",
    }
    assert {o.flow_run_id for o in town.offboardings()} == {str(r.id) for r in runs}

    assert start_runs([CODE]).made == 0
    assert reminders()["startade avslutskörningar"] == 0
    assert len(runs_of(batch)) == 2


def test_a_run_that_cannot_be_made_does_not_fail_the_sync(
    town: Town, batch: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_deployment fails (here: the deployment it names is not there): the sync completes,
    its start is recorded, no run; the next start makes the one run."""
    (leaver,) = town.staff()[:1]
    town.give_a_number(leaver)
    path = town.write(town.without(leaver), "hr.csv")
    monkeypatch.setattr(starting, "BATCH_DEPLOYMENT", "offboarding-batch/finns-inte")

    state = directory_sync(path=str(path), return_state=True)

    assert state.is_completed(), state
    assert report_of(state).offboardings_started == 1
    assert runs_of(batch) == []
    (off,) = town.offboardings()
    assert off.flow_run_id is None
    monkeypatch.undo()
    assert start_runs([CODE]).made == 1
    (run,) = runs_of(batch)
    assert run.name == f"avslut-{CODE}-{leaver}"
    assert start_runs([CODE]).made == 0
