"""How fast the outbox relay sends, next to a bare smtplib loop over one connection.

    uv run python bench/relay.py [--mails 10000] [--engine sqlite|postgresql] [--repeat 2]
                                 [--profile]

Queues N notices (template "meddelande", no attachment) in a fresh database, starts a local
aiosmtpd in a process of its own that only counts, then measures (a) `relay_outbox` sending
all N (batch_size 500) and (b) smtplib sending the same message bytes (built by
`models.mime.build_message` when queued) over one connection. They alternate `--repeat` times (the
outbox is put back between relay runs) and the best of each counts: this machine is shared.
The ratio relay/bare should be at least 0.5. `--profile` shows where the relay spends time.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import pstats
import smtplib
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from tests import scratch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENDER = "telefoni@hallsberg.example"
SENDER_NAME = "Telefoni – Hallsbergs kommun"
DOMAIN = "hallsberg.example"
NAMES = [
    "Åsa Öberg",
    "Björn Ärlig",
    "Märta Ståhl",
    "Örjan Åkesson",
    "Gösta Lindén",
    "Kerstin Nyström",
]


# --- a counting SMTP server, in its own process so it does not share our GIL -------------


class _Counter:
    def __init__(self, count: Synchronized[int]) -> None:
        self.count = count

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.count.get_lock():
            self.count.value += 1
        return "250 OK"


def _serve(port: int, count: Synchronized[int], ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Counter(count), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


@contextmanager
def counting_server() -> Iterator[tuple[int, Synchronized[int]]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    ctx = multiprocessing.get_context("spawn")
    count: Synchronized[int] = ctx.Value("l", 0)
    ready, stop = ctx.Event(), ctx.Event()
    process = ctx.Process(target=_serve, args=(port, count, ready, stop), daemon=True)
    process.start()
    if not ready.wait(30):
        process.kill()
        raise RuntimeError("the SMTP server did not start")
    try:
        yield port, count
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.kill()


# --- a fresh database --------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    with (
        tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp,
        scratch.fresh_database(kind, Path(tmp), prefix="telefoni_bench") as url,
    ):
        yield url


def queue(engine: Any, mails: int) -> None:
    from sqlalchemy.orm import Session

    from models.outbox import Sender, enqueue

    with Session(engine) as session, session.begin():
        for i in range(1, mails + 1):
            enqueue(
                session,
                template="meddelande",
                business_key=f"bench-{i}",
                recipient=f"anstalld{i}@hallsberg.example",
                context={
                    "subject": f"Din nya mobiltelefon är klar att hämta (ärende {i})",
                    "name": NAMES[i % len(NAMES)],
                    "paragraphs": [
                        "Din beställning av en ny mobiltelefon har levererats till "
                        "IT-servicedesken i kommunhuset, Västra Storgatan 16 i Hallsberg.",
                        "Du kan hämta den vardagar mellan 08.00 och 16.00. Ta med giltig "
                        "legitimation och lämna tillbaka din gamla telefon samtidigt, så "
                        "raderar vi den åt dig enligt kommunens rutin för återlämning.",
                        "Ditt telefonnummer följer med till den nya telefonen; växeln och "
                        "kontaktcenter ser ingen skillnad. Har du frågor, ring IT-supporten "
                        "på 0582-68 50 00 eller svara på ärendet i självservicen.",
                    ],
                    "municipality": "Hallsbergs kommun",
                },
                sender=Sender(SENDER, SENDER_NAME),
            )


def all_message_bytes(engine: Any) -> list[tuple[str, bytes]]:
    """(recipient, the bytes the relay sends) of every queued mail, built before timing."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from models.outbox import OutboxMessage

    with Session(engine) as session:
        rows = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.raw).order_by(OutboxMessage.id)
        ).all()
        return [(recipient, raw) for recipient, raw in rows]


def _runs(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def requeue(engine: Any) -> None:
    """Put every mail back in the outbox, as if never sent, for another timed run."""
    from sqlalchemy import update

    from models.base import utcnow
    from models.outbox import OutboxMessage, OutboxStatus

    with engine.begin() as conn:
        conn.execute(
            update(OutboxMessage).values(
                status=OutboxStatus.PENDING, attempts=0, sent_at=None, next_attempt_at=utcnow()
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each; best counts")
    parser.add_argument("--profile", action="store_true", help="profile the last relay run")
    args = parser.parse_args()

    from models.outbox import RetryPolicy
    from tasks.mail import SmtpTransport
    from tasks.outbox import relay_outbox
    from telefoni.core import migrate
    from telefoni.core.db import make_engine

    relay_times: list[float] = []
    bare_times: list[float] = []
    profile = cProfile.Profile() if args.profile else None
    with counting_server() as (port, count), fresh_database(args.engine) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        started = time.perf_counter()
        queue(engine, args.mails)
        took = time.perf_counter() - started
        print(f"{args.mails} mails queued on {args.engine} in {took:.1f} s")
        messages = all_message_bytes(engine)
        transport = SmtpTransport(host="127.0.0.1", port=port, sender=SENDER)

        for run in range(args.repeat):  # alternate, so that a busy moment hits both alike
            count.value = 0
            started = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", port) as client:
                for recipient, data in messages:
                    client.sendmail(SENDER, [recipient], data)
            bare_times.append(time.perf_counter() - started)
            assert count.value == args.mails, count.value

            if run:
                requeue(engine)
            count.value = 0
            last = run == args.repeat - 1
            started = time.perf_counter()
            if profile and last:
                profile.enable()
            report = relay_outbox(
                engine, transport, policy=RetryPolicy(), batch_size=args.batch_size
            )
            if profile and last:
                profile.disable()
            relay_times.append(time.perf_counter() - started)
            assert report.sent == args.mails == count.value, (report, count.value)
        engine.dispose()

    relay_rate, bare_rate = args.mails / min(relay_times), args.mails / min(bare_times)
    print(f"relay_outbox : {relay_rate:6.0f} mails/s (runs: {_runs(relay_times)} s)")
    print(f"bare smtplib : {bare_rate:6.0f} mails/s (runs: {_runs(bare_times)} s)")
    verdict = "ok" if relay_rate / bare_rate >= 0.5 else "below the target 0.5"
    print(f"ratio relay/bare: {relay_rate / bare_rate:.2f} ({verdict})")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
