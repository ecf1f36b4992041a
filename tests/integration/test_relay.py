"""The outbox relay against a real SMTP server, on SQLite and PostgreSQL.

Each test checks what an IT admin would: the rows in outbox_message (status, attempts,
sent_at, last_error) and what the mail server actually received.
"""

from __future__ import annotations

import io
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from prefect import Task
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.outbox import Attachment, OutboxMessage, OutboxStatus, RetryPolicy, Sender, enqueue
from tasks.mail import FolderTransport, MailServerUnavailable, SmtpTransport
from tasks.outbox import RelayReport, relay_outbox, relay_policy, send_outbox
from telefoni.core.settings import Settings
from tests.cli import COMMAND, telefoni, telefoni_env
from tests.integration.smtp_server import DROP, SmtpServer

SENDER = "telefoni@hallsberg.example"
DOMAIN = "hallsberg.example"
SENDER_NAME = "Telefoni – Hallsbergs kommun"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Due again at once after a temporary refusal; three attempts, then a dead letter.
INSTANT = RetryPolicy(max_attempts=3, base_seconds=0, jitter=0)
NAMES = ["Åsa Öberg", "Björn Ärlig", "Märta Ståhl", "Örjan Åkesson", "Gösta Lindén"]


@dataclass(frozen=True)
class Queued:
    id: int
    message_id: str
    recipient: str
    subject: str
    name: str


def xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Anställd", "Nummer", "Förvaltning"])
    sheet.append(["Åsa Öberg", "+46701234567", "Socialförvaltningen"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def queue(
    engine: Engine, count: int, *, attachments: dict[int, Attachment] | None = None
) -> list[Queued]:
    """Queue `count` notices (1-based; `attachments` by number) in one transaction."""
    attachments = attachments or {}
    queued = []
    with Session(engine) as session, session.begin():
        for i in range(1, count + 1):
            name = NAMES[i % len(NAMES)]
            row = enqueue(
                session,
                template="meddelande",
                business_key=f"test-{i}",
                recipient=f"person{i}@hallsberg.example",
                context={
                    "subject": f"Din nya mobil är på väg – ärende {i} (åäö ÅÄÖ)",
                    "name": name,
                    "paragraphs": [
                        "Telefonen skickas till din förvaltnings växel i Hallsberg.",
                        "Hämta den i receptionen på Västra Storgatan; ta med legitimation.",
                    ],
                    "municipality": "Hallsbergs kommun",
                },
                sender=Sender(SENDER, SENDER_NAME),
                attachments=[attachments[i]] if i in attachments else [],
            )
            queued.append(Queued(row.id, row.message_id, row.recipient, row.subject, name))
    return queued


def rows(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every outbox row by Message-ID, as the IT admin would query it."""
    table = OutboxMessage.__table__
    with engine.connect() as conn:
        return {r["message_id"]: dict(r) for r in conn.execute(select(table)).mappings()}


def smtp(server: SmtpServer) -> SmtpTransport:
    return SmtpTransport(host=server.host, port=server.port, sender=SENDER, timeout=5)


class Clock:
    """The relay's clock, moved by hand; it starts a minute ahead, so what was queued is due."""

    def __init__(self) -> None:
        self.at = utcnow().replace(microsecond=0) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.at

    def move(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def relay(engine: Engine, server: SmtpServer, clock: Clock, **kwargs: Any) -> RelayReport:
    kwargs.setdefault("policy", INSTANT)
    return relay_outbox(engine, smtp(server), now=clock, **kwargs)


def assert_sent_once(row: dict[str, Any], clock: Clock, *, attempts: int = 1) -> None:
    assert row["status"] == OutboxStatus.SENT
    assert row["attempts"] == attempts
    assert row["sent_at"] == clock.at  # stamped by the relay's clock when it recorded the send
    assert row["last_error"] is None


def test_happy_path_delivers_each_mail_once_intact(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    sheet = xlsx_bytes()
    queued = queue(relay_db, 4, attachments={2: Attachment("Abonnemang_Örebro.xlsx", XLSX, sheet)})

    report = relay(relay_db, smtp_server, clock)

    assert (report.sent, report.retry_later, report.dead, report.still_pending) == (4, 0, 0, 0)
    assert not report.skipped
    copies = smtp_server.by_message_id()
    assert sorted(copies) == sorted(q.message_id for q in queued)
    stored = rows(relay_db)
    for q in queued:
        assert len(copies[q.message_id]) == 1, q
        got = copies[q.message_id][0]
        assert got.rcpt_tos == (q.recipient,)
        assert got.mail_from == SENDER
        assert got.message_id == stored[q.message_id]["message_id"]
        assert got.subject == q.subject and "på väg" in got.subject and "åäö ÅÄÖ" in got.subject
        message: EmailMessage = got.message
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        assert f"Hej {q.name}!" in text.get_content()
        assert "Västra Storgatan" in text.get_content()
        assert q.name in html.get_content()
        assert SENDER_NAME in str(message["From"])
        assert_sent_once(stored[q.message_id], clock)

    files = list(copies[queued[1].message_id][0].message.iter_attachments())
    assert [(f.get_filename(), f.get_content_type()) for f in files] == [
        ("Abonnemang_Örebro.xlsx", XLSX)
    ]
    assert files[0].get_content() == sheet
    book = openpyxl.load_workbook(io.BytesIO(files[0].get_content()))
    assert book.active is not None and book.active["A2"].value == "Åsa Öberg"
    for q in (queued[0], *queued[2:]):
        assert list(copies[q.message_id][0].message.iter_attachments()) == []


def test_temporary_refusal_is_retried_and_delivered_once(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    first, second = queue(relay_db, 2)
    smtp_server.script(message_id=first.message_id, replies=["451 4.3.0 Försök senare"])

    report = relay(relay_db, smtp_server, clock)

    assert (report.sent, report.retry_later, report.dead) == (1, 1, 0)
    row = rows(relay_db)[first.message_id]
    assert row["status"] == OutboxStatus.PENDING
    assert row["attempts"] == 1
    assert row["sent_at"] is None
    assert "451" in row["last_error"] and "Försök senare" in row["last_error"]
    assert smtp_server.copies(first.message_id) == []  # refused, so not held by the server
    assert_sent_once(rows(relay_db)[second.message_id], clock)

    again = relay(relay_db, smtp_server, clock)

    assert (again.sent, again.retry_later, again.dead, again.still_pending) == (1, 0, 0, 0)
    assert_sent_once(rows(relay_db)[first.message_id], clock, attempts=2)
    assert len(smtp_server.copies(first.message_id)) == 1
    assert len(smtp_server.copies(second.message_id)) == 1
    assert relay(relay_db, smtp_server, clock).sent == 0  # nothing left: never a second copy
    assert len(smtp_server.messages) == 2


def test_a_temporary_refusal_waits_out_its_backoff(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    """The next attempt is due `base_seconds` after the refusal: not a second sooner."""
    (mail,) = queue(relay_db, 1)
    smtp_server.script(message_id=mail.message_id, replies=["451 4.3.0 Försök senare"])
    policy = RetryPolicy(max_attempts=3, base_seconds=300, jitter=0)
    refused_at = clock.at

    assert relay(relay_db, smtp_server, clock, policy=policy).retry_later == 1
    assert rows(relay_db)[mail.message_id]["next_attempt_at"] == refused_at + timedelta(minutes=5)
    clock.move(299)
    early = relay(relay_db, smtp_server, clock, policy=policy)
    assert (early.sent, early.still_pending) == (0, 1)
    assert smtp_server.sessions == 1  # nothing was due: the relay did not even connect
    clock.move(1)
    assert relay(relay_db, smtp_server, clock, policy=policy).sent == 1

    assert_sent_once(rows(relay_db)[mail.message_id], clock, attempts=2)
    assert len(smtp_server.deliveries) == 2 and len(smtp_server.messages) == 1


def test_permanent_refusal_is_a_dead_letter_shown_by_mail_status(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock, tmp_path: Path
) -> None:
    unknown, known = queue(relay_db, 2)
    smtp_server.script(recipient=unknown.recipient, replies=["550 5.1.1 Okänd mottagare"])

    report = relay(relay_db, smtp_server, clock)

    assert (report.sent, report.retry_later, report.dead) == (1, 0, 1)
    assert report.dead_letters == [
        (unknown.recipient, unknown.subject, "550 5.1.1 Okänd mottagare")
    ]
    row = rows(relay_db)[unknown.message_id]
    assert row["status"] == OutboxStatus.DEAD
    assert row["attempts"] == 1
    assert row["sent_at"] is None
    assert "550" in row["last_error"] and "Okänd mottagare" in row["last_error"]
    assert smtp_server.copies(unknown.message_id) == []
    assert_sent_once(rows(relay_db)[known.message_id], clock)

    status = telefoni("mail", "status", engine=relay_db, data_dir=tmp_path)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert "väntar: 0" in lines and "skickade: 1" in lines and "döda brev: 1" in lines
    assert f"  {unknown.recipient} – {unknown.subject}: 550 5.1.1 Okänd mottagare" in lines

    assert relay(relay_db, smtp_server, clock).dead == 0  # a dead letter is not tried again
    assert [d for d in smtp_server.deliveries if d[1] == unknown.message_id] == []


def test_temporary_refusal_every_time_gives_up_after_max_attempts(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    (stuck,) = queue(relay_db, 1)
    smtp_server.script(message_id=stuck.message_id, replies=["451 4.7.1 Grålistad"] * 5)

    for attempt in (1, 2):
        report = relay(relay_db, smtp_server, clock)
        assert (report.sent, report.retry_later, report.dead) == (0, 1, 0)
        row = rows(relay_db)[stuck.message_id]
        assert (row["status"], row["attempts"]) == (OutboxStatus.PENDING, attempt)
    report = relay(relay_db, smtp_server, clock)

    assert (report.sent, report.retry_later, report.dead, report.still_pending) == (0, 0, 1, 0)
    row = rows(relay_db)[stuck.message_id]
    assert row["status"] == OutboxStatus.DEAD
    assert row["attempts"] == INSTANT.max_attempts == 3
    assert row["sent_at"] is None
    assert row["last_error"] == "gav upp efter 3 försök: 451 4.7.1 Grålistad"
    assert relay(relay_db, smtp_server, clock).retry_later == 0
    assert len([d for d in smtp_server.deliveries if d[1] == stuck.message_id]) == 3
    assert smtp_server.messages == []


def test_server_down_loses_nothing_and_sends_later(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    queued = queue(relay_db, 3)
    smtp_server.stop()

    with pytest.raises(MailServerUnavailable):
        relay(relay_db, smtp_server, clock)

    for row in rows(relay_db).values():
        assert row["status"] == OutboxStatus.PENDING
        assert row["attempts"] == 0
        assert row["sent_at"] is None and row["last_error"] is None

    smtp_server.start()
    report = relay(relay_db, smtp_server, clock)

    assert (report.sent, report.retry_later, report.dead, report.still_pending) == (3, 0, 0, 0)
    stored = rows(relay_db)
    for q in queued:
        assert len(smtp_server.copies(q.message_id)) == 1
        assert_sent_once(stored[q.message_id], clock)


def test_connection_dropped_after_accept_gives_two_copies_with_one_message_id(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    queued = queue(relay_db, 3)
    dropped = queued[1]
    smtp_server.script(message_id=dropped.message_id, replies=[DROP])

    report = relay(relay_db, smtp_server, clock)

    assert (report.sent, report.retry_later, report.dead) == (3, 0, 0)
    twice = smtp_server.copies(dropped.message_id)
    assert len(twice) == 2  # at-least-once: the client never heard the first 250
    assert {c.message_id for c in twice} == {rows(relay_db)[dropped.message_id]["message_id"]}
    assert twice[0].data == twice[1].data  # the same bytes, not a rebuilt mail
    stored = rows(relay_db)
    for q in queued:
        assert_sent_once(stored[q.message_id], clock)
        if q is not dropped:
            assert len(smtp_server.copies(q.message_id)) == 1


def test_connection_dropped_again_on_the_resend_counts_an_attempt_and_moves_on(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    """The client resends once on a disconnect; if that copy is dropped too, the mail waits
    for its next attempt and the rest of the batch still goes out."""
    first, dropped, last = queue(relay_db, 3)
    smtp_server.script(message_id=dropped.message_id, replies=[DROP, DROP])

    report = relay(relay_db, smtp_server, clock)

    assert (report.sent, report.retry_later) == (2, 1)
    stored = rows(relay_db)
    assert_sent_once(stored[first.message_id], clock)
    assert_sent_once(stored[last.message_id], clock)
    row = stored[dropped.message_id]
    assert (row["status"], row["attempts"], row["sent_at"]) == (OutboxStatus.PENDING, 1, None)
    assert "anslutningen bröts" in row["last_error"]
    assert len(smtp_server.copies(dropped.message_id)) == 2

    report = relay(relay_db, smtp_server, clock)

    assert (report.sent, report.dead, report.still_pending) == (1, 0, 0)
    copies = smtp_server.copies(dropped.message_id)
    assert len(copies) == 3 and {c.message_id for c in copies} == {dropped.message_id}
    assert len(smtp_server.copies(last.message_id)) == 1


def test_a_mail_that_always_breaks_the_connection_ends_as_a_dead_letter(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    """A poison mail never blocks the outbox: the others go out, it dies after max attempts."""
    poison, *others = queue(relay_db, 3)
    smtp_server.script(message_id=poison.message_id, replies=[DROP] * 20)
    for _ in range(3):
        relay(relay_db, smtp_server, clock)  # INSTANT: three attempts, no waiting

    stored = rows(relay_db)
    assert stored[poison.message_id]["status"] == OutboxStatus.DEAD
    assert "gav upp efter 3 försök" in stored[poison.message_id]["last_error"]
    for q in others:
        assert_sent_once(stored[q.message_id], clock)
        assert len(smtp_server.copies(q.message_id)) == 1


def test_killed_between_send_and_record_resends_with_the_same_message_ids(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock, tmp_path: Path
) -> None:
    queued = queue(relay_db, 30)
    hold = smtp_server.hold(12)
    env = telefoni_env(
        relay_db,
        tmp_path,
        TELEFONI_SMTP_HOST=smtp_server.host,
        TELEFONI_SMTP_PORT=str(smtp_server.port),
        TELEFONI_SMTP_TIMEOUT_SECONDS="60",
    )
    sender = subprocess.Popen(
        [*COMMAND, "mail", "send"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reached = hold.wait_reached(90)
        if not reached:
            sender.kill()
            out, err = sender.communicate()
            pytest.fail(f"the 12th mail never arrived: {sender.returncode} {out} {err}")
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        if sender.poll() is None:
            sender.kill()
        hold.release()
    assert sender.returncode == -signal.SIGKILL

    # 12 mails reached the server, but commit_every=100: the killed run recorded nothing.
    assert len(smtp_server.messages) == 12
    for row in rows(relay_db).values():
        assert (row["status"], row["attempts"], row["sent_at"]) == (OutboxStatus.PENDING, 0, None)

    deadline = time.monotonic() + 10  # PostgreSQL ends the dead session's lock on its own time
    while (report := relay(relay_db, smtp_server, clock)).skipped and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not report.skipped, "the killed relay's lock outlived its process"
    assert (report.sent, report.retry_later, report.dead, report.still_pending) == (30, 0, 0, 0)
    stored = rows(relay_db)
    assert all(row["status"] == OutboxStatus.SENT for row in stored.values())
    copies = smtp_server.by_message_id()
    assert set(copies) == set(stored)  # every Message-ID received, and no stranger
    for q in queued:
        assert len(copies[q.message_id]) >= 1
        for copy in copies[q.message_id]:
            assert copy.rcpt_tos == (q.recipient,) and copy.subject == q.subject
    duplicated = {mid for mid, c in copies.items() if len(c) > 1}
    assert duplicated == {q.message_id for q in queued[:12]}
    by_recipient: dict[str, set[str]] = {}
    for m in smtp_server.messages:
        by_recipient.setdefault(m.rcpt_tos[0], set()).add(m.message_id)
    assert all(len(ids) == 1 for ids in by_recipient.values())  # a resend is the same mail


def test_a_second_relay_at_the_same_time_does_nothing(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    """The second relay returns while the first still holds the lock, and never connects."""
    queued = queue(relay_db, 5)
    hold = smtp_server.hold(2)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(relay, relay_db, smtp_server, clock)
        try:
            assert hold.wait_reached(30)
            # The first relay cannot finish before release(): a second relay that waited for
            # the lock would still be waiting when this times out.
            second = pool.submit(relay, relay_db, smtp_server, clock).result(timeout=30)
            first_still_held = not first.done()
            sessions_meanwhile = smtp_server.sessions
            sent_meanwhile = len(smtp_server.messages)
        finally:
            hold.release()
        report = first.result(timeout=30)

    assert second.skipped and (second.sent, second.retry_later, second.dead) == (0, 0, 0)
    assert first_still_held  # the second relay returned while the first was mid-batch
    assert sessions_meanwhile == 1  # the first relay's connection: the second never opened one
    assert sent_meanwhile == 2  # the first relay's, up to the held one
    assert not report.skipped and report.sent == 5
    for q in queued:
        assert len(smtp_server.copies(q.message_id)) == 1
    assert all(r["status"] == OutboxStatus.SENT for r in rows(relay_db).values())


def test_folder_transport_writes_one_eml_per_mail(
    relay_db: Engine, clock: Clock, tmp_path: Path
) -> None:
    queued = queue(relay_db, 3)
    folder = tmp_path / "mail"
    transport = FolderTransport(folder)

    report = relay_outbox(relay_db, transport, policy=INSTANT, now=clock)

    assert (report.sent, report.dead, report.still_pending) == (3, 0, 0)
    expected = {q.message_id.strip("<>") + ".eml": q for q in queued}
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)  # no .tmp left over
    written = {}
    for name, q in expected.items():
        data = (folder / name).read_bytes()
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert message["Subject"] == q.subject
        assert message["Message-ID"] == q.message_id
        assert message["To"] == q.recipient
        written[name] = data
    for row in rows(relay_db).values():
        assert_sent_once(row, clock)

    assert relay_outbox(relay_db, transport, policy=INSTANT, now=clock).sent == 0
    # A crash before the marks were recorded: the relay writes them all again.
    with relay_db.begin() as conn:
        conn.execute(update(OutboxMessage).values(status=OutboxStatus.PENDING, sent_at=None))
    assert relay_outbox(relay_db, transport, policy=INSTANT, now=clock).sent == 3

    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)  # no second file


def test_the_relay_is_the_task_and_its_policy_a_plain_function() -> None:
    """Prefect retries the relay when the server is down; the policy is only arithmetic (as a
    task, `telefoni mail send` would start a temporary Prefect server just to build it)."""
    assert isinstance(send_outbox, Task) and send_outbox.retries == 3
    assert not isinstance(relay_policy, Task)
    policy = relay_policy(Settings(relay_max_attempts=5, relay_backoff_seconds=60))
    assert (policy.max_attempts, policy.base_seconds) == (5, 60)


def test_a_mail_with_a_one_time_code_is_erased_once_sent(
    relay_db: Engine, smtp_server: SmtpServer, clock: Clock
) -> None:
    """The code reaches its person and is then kept nowhere: the row keeps only its headers."""
    with Session(relay_db) as session, session.begin():
        sealed = enqueue(
            session,
            template="meddelande",
            business_key="code-1",
            recipient="maja@hallsberg.example",
            context={
                "subject": "Din engångskod",
                "name": "Maja",
                "paragraphs": ["Din engångskod: 1234 5678"],
                "municipality": "Hallsbergs kommun",
            },
            sender=Sender(SENDER, SENDER_NAME),
            sealed=True,
        ).message_id
    plain = queue(relay_db, 1)[0].message_id

    assert relay(relay_db, smtp_server, clock).sent == 2
    (delivered,) = [m.message for m in smtp_server.messages if m.message_id == sealed]
    body = delivered.get_body(("plain",))
    assert body is not None and "1234 5678" in body.get_content()
    row = rows(relay_db)[sealed]
    for field in ("body_text", "body_html", "raw"):
        value = row[field].decode() if isinstance(row[field], bytes) else row[field]
        assert "1234" not in value and "raderades" in value, field
    stored = BytesParser(policy=policy.default).parsebytes(row["raw"])
    assert (stored["To"], stored["Subject"]) == ("maja@hallsberg.example", "Din engångskod")
    assert "Telefonen skickas" in rows(relay_db)[plain]["body_text"]  # other mail: as it was
