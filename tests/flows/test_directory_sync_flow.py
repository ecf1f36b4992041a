"""The directory-sync flow under a real Prefect server: a run per municipality."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import State
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterName,
    TaskRunFilterState,
    TaskRunFilterStateName,
)
from prefect.client.schemas.objects import TaskRun
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.directory_sync import directory_sync
from models.audit import AuditEvent
from models.outbox import OutboxMessage
from models.sync_run import SyncRun, SyncStatus
from tasks.directory_sync import SyncReport
from telefoni import demo
from telefoni.core.locks import exclusive_run
from telefoni.core.settings import get_settings
from telefoni.core.vault import vault_from
from tests import factories


@pytest.fixture
def hr_file(flow_db: Engine, tmp_path: Path) -> Path:
    """The settings' one municipality's people, and an export of theirs with one change."""
    town = demo.generate(employees=120, seed=3, today=date.today())
    with Session(flow_db) as session, session.begin():
        home = factories.municipality(session)
        demo.load(session, town, vault=vault_from(get_settings()), municipality_id=home)
    frame = demo.hr_export_frame(town)
    frame.loc[4, "titel"] = "Telefonansvarig"
    path = tmp_path / "hr-export.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    return path


def report_of(state: State[Any]) -> SyncReport:
    """The report of a run that ended with one (not Cancelled)."""
    report = state.result()
    assert isinstance(report, SyncReport), state
    return report


def artifacts_of(flow_run_id: object) -> dict[str, str]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {str(a.key): str(a.data) for a in found}


def task_runs_of(flow_run_id: UUID, task_name: str) -> list[TaskRun]:
    """The flow run's runs of the task ``task_name``, once the server has recorded each one's
    end (task runs reach it as events, a moment after the flow run has seen them)."""
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while True:
            found = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            runs = [r for r in found if r.name.startswith(task_name)]
            if runs and all(r.state is not None and r.state.is_final() for r in runs):
                return runs
            assert time.monotonic() < deadline, f"no final state recorded: {found}"
            time.sleep(0.2)


def test_sync_flow_applies_and_reports(flow_db: Engine, hr_file: Path) -> None:
    state = directory_sync(path=str(hr_file), started_by="hr.handlaggare", return_state=True)
    report = report_of(state)

    assert report.status is SyncStatus.APPLIED
    assert (report.changed, report.joiners, report.leavers) == (1, 0, 0)
    found = artifacts_of(state.state_details.flow_run_id)
    assert "| ändrade personer | 1 |" in found["directory-sync-hallsberg"]
    assert "Hallsbergs kommun" in found["directory-sync-hallsberg"]
    assert "Telefonansvarig" in found["directory-sync-hallsberg-changes"]
    with Session(flow_db) as session:
        event = session.scalars(select(AuditEvent)).one()
        home = factories.municipality(session)
    assert (event.actor_type, event.actor_id) == ("person", "hr.handlaggare")
    assert event.flow_run_id == str(state.state_details.flow_run_id)
    assert event.municipality_id == home
    assert run_name(state.state_details.flow_run_id).startswith("katalogsynk-hallsberg-")


def run_name(flow_run_id: object) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).name  # type: ignore[arg-type]


def test_a_sync_while_the_municipality_is_syncing_ends_cancelled(
    flow_db: Engine, hr_file: Path
) -> None:
    """Tonight's sync of the municipality is under way (it holds the lock): a second one is
    Cancelled, not Failed, says why in Swedish, and writes nothing."""
    with exclusive_run(flow_db, "directory-sync:hallsberg") as mine:
        assert mine
        state = directory_sync(path=str(hr_file), return_state=True)

    assert state.is_cancelled(), state
    assert "En annan katalogsynk för Hallsbergs kommun pågår redan" in str(state.message)
    with Session(flow_db) as session:
        assert session.scalars(select(AuditEvent)).all() == []
        assert session.scalars(select(SyncRun)).all() == []
    # Another municipality's lock held stops nothing of this one's.
    with exclusive_run(flow_db, "directory-sync:laxa") as mine:
        assert mine
        assert directory_sync(path=str(hr_file), return_state=True).is_completed()


MUNICIPALITIES = """
[kommun.hallsberg]
name = "Hallsbergs kommun"
contact_centre_email = "kontaktcenter@hallsberg.example"
mail_from = "telefoni@hallsberg.example"
hr_export_path = "hallsberg.csv"

[kommun.laxa]
name = "Laxå kommun"
contact_centre_email = "kontaktcenter@laxa.example"
mail_from = "telefoni@laxa.example"
signature = "Kommunledningskontoret, Laxå kommun"
hr_export_path = "laxa.csv"
"""


def test_each_municipalitys_run_reads_its_own_export(
    flow_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two municipalities: a run for Laxå reads Laxå's export (from the file of municipalities)
    and changes, tells and names only Laxå; a run that does not say which fails in Swedish."""
    (tmp_path / "kommuner.toml").write_text(MUNICIPALITIES, encoding="utf-8")
    monkeypatch.setenv("TELEFONI_MUNICIPALITIES_FILE", str(tmp_path / "kommuner.toml"))
    get_settings.cache_clear()
    vault = vault_from(get_settings())
    towns = {
        "hallsberg": demo.generate(employees=60, seed=3),
        "laxa": demo.generate(employees=60, seed=4, place=demo.ALVNAS),
    }
    ids = {}
    with Session(flow_db) as session, session.begin():
        for code, town in towns.items():
            ids[code] = factories.municipality(session, code, get_settings().kommun(code).name)
            demo.load(session, town, vault=vault, municipality_id=ids[code])
    for code, town in towns.items():
        frame = demo.hr_export_frame(town)
        frame.loc[2, "titel"] = f"Ny titel i {code}"
        frame.to_csv(tmp_path / f"{code}.csv", sep=";", index=False, encoding="utf-8-sig")

    unsaid = directory_sync(return_state=True)
    assert unsaid.is_failed()
    with pytest.raises(Exception, match="ange vilken kommun det gäller"):
        unsaid.result()

    state = directory_sync(kommun="Laxå kommun", return_state=True)
    report = report_of(state)

    assert (report.changed, report.rows_read, report.municipality) == (1, 60, "Laxå kommun")
    found = artifacts_of(state.state_details.flow_run_id)
    assert set(found) == {"directory-sync-laxa", "directory-sync-laxa-changes"}
    assert "Ny titel i laxa" in found["directory-sync-laxa-changes"]
    assert run_name(state.state_details.flow_run_id).startswith("katalogsynk-laxa-")
    with Session(flow_db) as session:
        events = session.scalars(select(AuditEvent)).all()
        mail = session.scalars(select(OutboxMessage)).one()
    assert [(e.action, e.municipality_id) for e in events] == [("directory.updated", ids["laxa"])]
    assert mail.recipient == "kontaktcenter@laxa.example"
    assert "Kommunledningskontoret, Laxå kommun" in mail.body_text
    assert "Laxå kommun" in mail.body_text and "Hallsberg" not in mail.body_text


def wait_for_a_retry(task_name: str) -> None:
    """Until the server has recorded a run of the task ``task_name`` failed once and waiting to
    be tried again (or trying again)."""
    waiting = TaskRunFilter(
        name=TaskRunFilterName(like_=task_name),
        state=TaskRunFilterState(name=TaskRunFilterStateName(any_=["AwaitingRetry", "Retrying"])),
    )
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while not client.read_task_runs(task_run_filter=waiting):
            assert time.monotonic() < deadline, f"{task_name} was never retried"
            time.sleep(0.2)


def test_a_file_still_being_written_is_read_when_complete(
    flow_db: Engine, hr_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEFONI_HR_READ_RETRY_SECONDS", "1")
    monkeypatch.setenv("TELEFONI_HR_READ_RETRIES", "60")  # a minute to see the first read fail
    get_settings.cache_clear()
    whole = hr_file.read_bytes()
    cut = whole[: len(whole) - 40]  # the writer is mid-row
    hr_file.write_bytes(cut)

    def finish_writing_once_a_read_failed() -> None:
        try:
            wait_for_a_retry("Läs HR-exporten")
        finally:
            hr_file.write_bytes(whole)

    writer = threading.Thread(target=finish_writing_once_a_read_failed)
    writer.start()
    state = directory_sync(path=str(hr_file), return_state=True)
    writer.join()
    report = report_of(state)

    assert report.status is SyncStatus.APPLIED
    assert report.rows_read == 120
    assert report.changed == 1
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    (read,) = task_runs_of(flow_run_id, "Läs HR-exporten")
    assert read.run_count >= 2  # the half-written file was read, and then the whole one


def test_a_broken_file_fails_at_once_with_a_clear_error(flow_db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "fel.csv"
    path.write_text("anstallningsnummer,personnummer,fornamn\n1,2,3\n", encoding="utf-8")
    state = directory_sync(path=str(path), return_state=True)
    assert state.is_failed()
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    (read,) = task_runs_of(flow_run_id, "Läs HR-exporten")
    assert read.state is not None and read.state.is_failed()
    assert read.run_count == 1  # not retried: an invalid file stays invalid
    with pytest.raises(Exception, match=r"fel\.csv.*rad 1") as info:
        state.result()
    assert "komma" in str(info.value)
