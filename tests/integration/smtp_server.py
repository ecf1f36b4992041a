"""A real SMTP server on loopback for tests: records what it receives, answers as scripted.

    server = SmtpServer()
    server.start()
    server.script(message_id="<...>", replies=["451 4.3.0 Försök senare", "250 OK"])
    server.script(recipient="x@example.se", replies=["550 5.1.1 Okänd mottagare"])
    server.script(message_id="<...>", replies=[DROP])  # store it, then hang up unanswered
    hold = server.hold(12)  # the 12th DATA waits until hold.release()
    server.stop(); server.start()  # down and up again, on the same port
    server.port  # the port the kernel gave: the socket binds port 0 on loopback itself

Replies scripted per recipient are given to RCPT TO; replies scripted per Message-ID to the
end of DATA (the Message-ID is only known then). Each delivery takes the next reply of its
list; once a list is used up the server answers "250 OK". Replies may contain å, ä, ö.

`messages` holds the copies the server accepted (a 2xx reply, or DROP: the server kept the
message but the client never heard so). A held message counts as accepted when it arrives:
the server has it, it just has not said so yet. `deliveries` logs every DATA with its reply;
`sessions` counts the clients that greeted it (EHLO/HELO).

The port stays the server's from construction to the end: while it is down a bound socket
that does not listen keeps it (a client is refused, and no other socket is given the port).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

DROP = "<drop the connection without a reply>"
OK = "250 OK"


def bound_socket(host: str, port: int = 0) -> socket.socket:
    """A TCP socket bound to (host, port), not yet listening; port 0: one the kernel picks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # A restart binds the same port again while the last run's connections linger in
        # TIME_WAIT; without this that bind would fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@dataclass(frozen=True)
class Received:
    """One copy of a message as the server took it in."""

    number: int  # which DATA it was, counting from 1 over the server's life
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


@dataclass
class Hold:
    """Delivery number `number` waits, after the server took the message, for `release()`."""

    number: int
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def wait_reached(self, timeout: float = 30.0) -> bool:
        return self.reached.wait(timeout)

    def release(self) -> None:
        self.released.set()


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # this hook's duty once it is defined
        self.owner._greeted()
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        session.host_name = hostname
        self.owner._greeted()
        return f"250 {server.hostname}"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str | bytes:
        reply = self.owner._next_reply(recipient=address)
        if reply == DROP:
            _hang_up(server)
            return OK  # never reaches the client
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply.encode()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str | bytes:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mid = str(message.get("Message-ID", "")).strip()
        number, reply, hold = self.owner._arrived(mid)
        if reply == DROP or reply.startswith("2"):
            self.owner._store(
                Received(
                    number=number,
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=content,
                    message=message,
                )
            )
        if hold is not None:
            hold.reached.set()
            while not hold.released.is_set():  # cancelled if the client goes away
                await asyncio.sleep(0.01)
        if reply == DROP:
            _hang_up(server)
            return OK  # written to a closed transport: the client sees only the disconnect
        return reply.encode()


def _hang_up(server: SMTP) -> None:
    if server.transport is not None:
        server.transport.close()


class _Controller(Controller):
    """Serves on a socket it is given; remembers its connections so that `stop()` can drop
    them like a crashing server."""

    def __init__(self, handler: _Handler, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port)
        self.sock = sock
        self.connections: list[SMTP] = []

    def _create_server(self) -> Coroutine[Any, Any, asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self.sock)

    def factory(self) -> SMTP:
        smtp = cast(SMTP, super().factory())  # type: ignore[no-untyped-call]
        self.connections.append(smtp)
        return smtp

    def _close_connections(self) -> None:
        for smtp in self.connections:
            if smtp.transport is not None:
                smtp.transport.close()


class SmtpServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._idle: socket.socket | None = bound_socket(host, port)  # holds the port while down
        self.port = int(self._idle.getsockname()[1])
        self._lock = threading.Lock()
        self._handler = _Handler(self)
        self._controller: _Controller | None = None
        self._messages: list[Received] = []
        self._deliveries: list[tuple[int, str, str]] = []
        self._scripts: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._holds: dict[int, Hold] = {}
        self._count = 0
        self._sessions = 0

    # --- running -------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on `self.port` (the same port after a stop: a restarted server)."""
        if self._controller is not None:
            return
        sock, self._idle = self._idle or bound_socket(self.host, self.port), None
        sock.listen()
        controller = _Controller(self._handler, sock)
        controller.start()  # the server owns the socket now and closes it when it stops
        self._controller = controller

    def stop(self) -> None:
        """Stop listening and drop open connections: the server is down."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        controller.loop.call_soon_threadsafe(controller._close_connections)
        for hold in list(self._holds.values()):
            hold.release()
        controller.stop()
        self._idle = bound_socket(self.host, self.port)  # down, but the port stays ours

    def close(self) -> None:
        """Stop for good and give the port back."""
        self.stop()
        if self._idle is not None:
            self._idle.close()
            self._idle = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scripting -----------------------------------------------------------------------

    def script(
        self, *, replies: list[str], message_id: str | None = None, recipient: str | None = None
    ) -> None:
        """Replies for successive deliveries of one Message-ID (at DATA) or recipient (RCPT)."""
        if (message_id is None) == (recipient is None):
            raise ValueError("give exactly one of message_id and recipient")
        key = ("message_id", message_id) if message_id is not None else ("rcpt", recipient)
        with self._lock:
            self._scripts[key].extend(replies)  # type: ignore[index]

    def hold(self, number: int) -> Hold:
        """Make the `number`-th DATA (counting from 1 over the server's life) wait."""
        hold = Hold(number)
        with self._lock:
            self._holds[number] = hold
        return hold

    # --- what the server saw -------------------------------------------------------------

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def deliveries(self) -> list[tuple[int, str, str]]:
        """(number, Message-ID, reply) of every DATA, accepted or not."""
        with self._lock:
            return list(self._deliveries)

    @property
    def sessions(self) -> int:
        """How many clients greeted the server (EHLO or HELO), one per connection."""
        with self._lock:
            return self._sessions

    def copies(self, message_id: str) -> list[Received]:
        return [m for m in self.messages if m.message_id == message_id]

    def by_message_id(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = defaultdict(list)
        for m in self.messages:
            out[m.message_id].append(m)
        return dict(out)

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until at least `count` copies were accepted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return True
            time.sleep(0.01)
        return False

    # --- called from the server's thread -------------------------------------------------

    def _next_reply(self, *, recipient: str | None = None, message_id: str | None = None) -> str:
        key = ("rcpt", recipient) if recipient is not None else ("message_id", message_id)
        with self._lock:
            queue = self._scripts.get(key)  # type: ignore[arg-type]
            return queue.pop(0) if queue else OK

    def _arrived(self, message_id: str) -> tuple[int, str, Hold | None]:
        reply = self._next_reply(message_id=message_id)
        with self._lock:
            self._count += 1
            self._deliveries.append((self._count, message_id, reply))
            return self._count, reply, self._holds.get(self._count)

    def _greeted(self) -> None:
        with self._lock:
            self._sessions += 1

    def _store(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)
