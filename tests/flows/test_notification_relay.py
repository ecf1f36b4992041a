"""The notification-relay flow under a real Prefect server: mail goes out, counts are reported."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flows.notification_relay import notification_relay
from models.outbox import OutboxMessage, OutboxStatus, Sender, enqueue
from telefoni.core.settings import get_settings


def queue(engine: Engine, n: int) -> None:
    with Session(engine) as session, session.begin():
        for i in range(n):
            enqueue(
                session,
                template="meddelande",
                business_key=f"flow-test-{i}",
                recipient=f"mottagare{i}@sjobacka.example",
                sender=Sender("telefoni@sjobacka.example"),
                context={
                    "subject": f"Ärende {i}: ändrad hänvisning",
                    "name": "Åsa Öberg",
                    "paragraphs": ["Din hänvisning är ändrad."],
                    "municipality": "Sjöbacka kommun",
                },
            )


def test_relay_flow_sends_the_outbox_and_reports(flow_db: Engine) -> None:
    queue(flow_db, 3)

    state = notification_relay(batch_size=2, return_state=True)
    report = state.result()

    assert (report.sent, report.dead, report.still_pending) == (3, 0, 0)
    folder = get_settings().mail_folder
    assert isinstance(folder, Path)
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]
    assert sorted(str(m["Subject"]) for m in mails) == [
        f"Ärende {i}: ändrad hänvisning" for i in range(3)
    ]
    with Session(flow_db) as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert {r.status for r in rows} == {OutboxStatus.SENT}
        assert {m["Message-ID"] for m in mails} == {r.message_id for r in rows}

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["notification-relay"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    assert len(artifacts) == 1
    assert "| skickade | 3 |" in str(artifacts[0].data)

    again = notification_relay(batch_size=2)  # nothing left: nothing sent twice
    assert again.sent == 0
    assert len(list(folder.glob("*.eml"))) == 3
