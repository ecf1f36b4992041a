"""Mail transports: SMTP through `emails`, or a folder of .eml files when no server is set up."""

from __future__ import annotations

import enum
import re
import smtplib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from emails.backend.smtp.backend import SMTPBackend
from emails.backend.smtp.exceptions import SMTPConnectNetworkError

from telefoni.core.settings import Settings


class MailServerUnavailable(ConnectionError):
    """The mail server could not be reached or dropped the connection: try the batch later."""


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # temporary refusal (4xx)
    REFUSED = "refused"  # permanent refusal (5xx): dead-letter


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    outbox_id: int
    recipient: str
    subject: str
    message_id: str
    raw: bytes  # the complete message, built when it was queued


@dataclass(frozen=True, slots=True)
class _Raw:
    """What `emails`' SMTP backend sends: anything with `as_bytes()`."""

    data: bytes

    def as_bytes(self) -> bytes:
        return self.data


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    detail: str | None = None


class MailConnection(Protocol):
    def send(self, mail: OutgoingMail) -> SendResult: ...


class MailTransport(Protocol):
    def connect(self) -> AbstractContextManager[MailConnection]: ...


def _reply(response: object) -> tuple[int | None, str]:
    code = getattr(response, "status_code", None)
    text = getattr(response, "status_text", b"") or b""
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return code, f"{code} {detail}".strip()


def from_header(raw: bytes) -> tuple[str, str]:
    """The (name, address) of a message's From header; empty strings where it has none."""
    header = BytesHeaderParser(policy=default).parsebytes(raw).get("From")
    return parseaddr(str(header)) if header else ("", "")


def envelope_sender(raw: bytes, fallback: str) -> str:
    """The address of the message's own From header (each municipality's mail returns to
    it when it bounces), or `fallback` if it has none."""
    return from_header(raw)[1] or fallback


class _SmtpConnection:
    def __init__(self, backend: SMTPBackend, sender: str) -> None:
        self.backend, self.sender = backend, sender

    def send(self, mail: OutgoingMail) -> SendResult:
        try:
            response = self.backend.sendmail(
                from_addr=envelope_sender(mail.raw, self.sender),
                to_addrs=[mail.recipient],
                msg=_Raw(mail.raw),
            )
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # Dropped in the middle of this mail (after `emails` tried once more): count it as
            # an attempt, so a mail that always breaks the connection ends as a dead letter
            # instead of blocking the outbox; the next mail reconnects, or finds the server down.
            self.backend.close()
            return SendResult(Outcome.RETRY, f"anslutningen bröts under sändningen: {exc}")
        if response is not None and response.success:
            return SendResult(Outcome.SENT)
        error = getattr(response, "error", None)
        if isinstance(error, SMTPConnectNetworkError | smtplib.SMTPConnectError):
            raise MailServerUnavailable(f"e-postservern svarar inte: {error}")
        code, detail = _reply(response)
        if code is not None and 400 <= code < 500:
            return SendResult(Outcome.RETRY, detail)
        if code is not None and code >= 500:
            return SendResult(Outcome.REFUSED, detail)
        raise MailServerUnavailable(f"oväntat svar från e-postservern: {detail or error}")


@dataclass(frozen=True)
class SmtpTransport:
    """SMTP via the `emails` package, one connection per batch."""

    host: str
    port: int
    sender: str  # the envelope sender of a message without From (each has its own)
    user: str | None = None
    password: str | None = None
    tls: bool = False
    ssl: bool = False
    timeout: float = 30.0

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        backend = SMTPBackend(
            host=self.host,
            port=self.port,
            tls=self.tls,
            ssl=self.ssl,
            user=self.user,
            password=self.password,
            timeout=self.timeout,
            fail_silently=True,
        )
        try:
            yield _SmtpConnection(backend, self.sender)
        finally:
            backend.close()


_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]")


class _FolderConnection:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, mail: OutgoingMail) -> SendResult:
        name = _UNSAFE.sub("_", mail.message_id.strip("<>")) + ".eml"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(mail.raw)
        tmp.replace(self.folder / name)  # the same mail twice is the same file
        return SendResult(Outcome.SENT)


@dataclass(frozen=True)
class FolderTransport:
    """Writes each mail as an .eml file: a local system is usable without a mail server."""

    folder: Path

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        self.folder.mkdir(parents=True, exist_ok=True)
        yield _FolderConnection(self.folder)


def transport_from(settings: Settings) -> SmtpTransport | FolderTransport:
    if settings.smtp_host:
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=str(settings.home.mail_from),
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            tls=settings.smtp_tls,
            ssl=settings.smtp_ssl,
            timeout=settings.smtp_timeout_seconds,
        )
    assert settings.mail_folder is not None
    return FolderTransport(settings.mail_folder)
