"""What an admin reads of a sync run and a relay run in the Prefect UI, read back through the
Prefect API: the quarantine table in Swedish, and log lines that say what happened, with
counts."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import State
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from flows.directory_sync import directory_sync
from flows.notification_relay import notification_relay
from models.outbox import Sender, enqueue
from tasks.directory_sync import SyncReport
from telefoni import demo
from telefoni.core.settings import get_settings
from telefoni.core.vault import vault_from
from tests import factories
from tests.flows.test_directory_sync_flow import artifacts_of

ENGLISH = ("row", "employee_number", "field", "reason", "detail", "invalid_", "unknown_")


def run_id(state: State[Any]) -> UUID:
    found = state.state_details.flow_run_id
    assert found is not None
    return found


def log_lines(flow_run_id: UUID, *wanted: str) -> list[str]:
    """The run's log messages, once every line of ``wanted`` is among them (logs reach the
    server in batches, a moment after the run has ended)."""
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
            messages = [log.message for log in logs]
            if all(w in messages for w in wanted):
                return messages
            assert time.monotonic() < deadline, f"not logged: {set(wanted) - set(messages)}"
            time.sleep(0.2)


def test_a_sync_run_logs_its_counts_and_shows_its_quarantine_in_swedish(
    flow_db: Engine, tmp_path: Path
) -> None:
    town = demo.generate(employees=120, seed=3, today=date.today())
    with Session(flow_db) as session, session.begin():
        home = factories.municipality(session)
        demo.load(session, town, vault=vault_from(get_settings()), municipality_id=home)
    frame = demo.hr_export_frame(town)
    frame.loc[4, "titel"] = "Telefonansvarig"
    frame.loc[7, "personnummer"] = "19850709-0000"  # the check digit is wrong
    frame.loc[9, "epost"] = "inte-en-adress"
    bad = {frame.loc[7, "anstallningsnummer"], frame.loc[9, "anstallningsnummer"]}
    hidden = str(frame.loc[7, "personnummer"])
    path = tmp_path / "hr-export.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8-sig")

    state = directory_sync(path=str(path), return_state=True)
    report = state.result()
    assert isinstance(report, SyncReport)
    assert (report.changed, report.rows_quarantined) == (1, 2)

    found = artifacts_of(run_id(state))
    table = json.loads(found["directory-sync-hallsberg-quarantine"])
    assert [list(row) for row in table] == [["rad", "anställningsnummer", "fält", "orsak"]] * 2
    assert [(r["anställningsnummer"], r["fält"], r["orsak"]) for r in table] == [
        (
            frame.loc[7, "anstallningsnummer"],
            "personnummer",
            "ogiltigt personnummer (kontrollsiffran stämmer inte)",
        ),
        (
            frame.loc[9, "anstallningsnummer"],
            "epost",
            "ogiltig e-postadress (förväntat namn@domän.se)",
        ),
    ]
    assert {r["anställningsnummer"] for r in table} == bad
    shown = found["directory-sync-hallsberg-quarantine"]
    assert not [word for word in ENGLISH if word in shown]
    assert hidden not in shown and hidden.replace("-", "") not in shown

    unchanged = report.rows_unchanged
    assert unchanged == 120 - 1 - 2
    read = "Läste 120 rader ur HR-exporten hr-export.csv (2 i karantän)."
    counts = f"Kunddatabasen: 0 nya, 1 ändrad, 0 borttagna, {unchanged} oförändrade."
    messages = log_lines(run_id(state), read, counts)
    assert "HR-exporten hr-export.csv är läst: 120 rader (teckenkodning utf-8-sig)." in messages
    assert "Ändringarna är skrivna i kunddatabasen för Hallsbergs kommun." in messages
    assert not [m for m in messages if hidden in m or hidden.replace("-", "") in m]


def test_a_relay_run_logs_what_it_sent(flow_db: Engine) -> None:
    with Session(flow_db) as session, session.begin():
        for i in range(3):
            enqueue(
                session,
                template="meddelande",
                business_key=f"loggad-{i}",
                recipient=f"mottagare{i}@sjobacka.example",
                sender=Sender("telefoni@sjobacka.example"),
                context={
                    "subject": f"Ärende {i}",
                    "name": "Åsa Öberg",
                    "paragraphs": ["Din hänvisning är ändrad."],
                    "municipality": "Sjöbacka kommun",
                },
            )

    state = notification_relay(return_state=True)
    assert state.is_completed()

    sent = "Skickade 3 e-postmeddelanden; 0 väntar på nytt försök; 0 kunde inte levereras."
    messages = log_lines(run_id(state), sent)
    assert not [m for m in messages if "mottagare" in m]  # counts, not people

    again = notification_relay(return_state=True)
    nothing = "Skickade 0 e-postmeddelanden; 0 väntar på nytt försök; 0 kunde inte levereras."
    log_lines(run_id(again), nothing)
