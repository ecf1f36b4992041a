"""The notification outbox: every e-mail is a row written in the same transaction as its cause.

A notice is identified by (template, business key): queueing it twice gives the first row
back, so a retried or re-run flow never mails twice. Its Message-ID is derived from that
identity and fixed, so a copy the relay had to send again is recognisable as the same mail.
"""

from __future__ import annotations

import enum
import random
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes
import markupsafe
from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.audit import mask_personnummer
from models.base import Base, UTCDateTime, created_ts, intpk, utcnow
from models.mime import build_message
from models.notice import Notice

TEMPLATES = Path(__file__).resolve().parent / "templates"
MESSAGE_ID_NAMESPACE = uuid.UUID("6f1c3a52-3f7e-4c55-9d1e-0b7a3c2e9a41")


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up: a permanent refusal, or too many attempts


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        UniqueConstraint("template", "business_key"),
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[intpk]
    template: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)  # the whole message as it is sent
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(
            OutboxStatus,
            name="outbox_status",
            native_enum=False,
            create_constraint=True,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_ts]
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Holds a secret (a one-time code): the relay erases its content once it is sent or dead.
    sealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        back_populates="message", order_by="OutboxAttachment.id", lazy="selectin"
    )

    def erase(self) -> None:
        """Keep who it was to, from and about (its headers), not what it said."""
        headers = self.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        self.raw = headers + b"\r\n\r\n" + ERASED.encode() + b"\r\n"
        self.body_text = self.body_html = ERASED


ERASED = "(Innehållet, med en engångskod, raderades när meddelandet hade skickats.)"


class OutboxAttachment(Base):
    __tablename__ = "outbox_attachment"

    id: Mapped[intpk]
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    message: Mapped[OutboxMessage] = relationship(back_populates="attachments")


@dataclass(frozen=True, slots=True)
class Sender:
    """Who the notices come from (the From header), the signature under each, and where its
    readers turn with questions (the municipality's contact centre, linked in the footer)."""

    address: str
    name: str = "Telefoni"
    signature: str | None = None
    contact_centre: str | None = None

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


class PersonnummerInMail(ValueError):
    """A rendered e-mail would contain a personnummer; it is never queued."""


_LINKABLE = ("https://", "http://", "mailto:")


@jinja2.pass_eval_context
def link(
    eval_ctx: jinja2.nodes.EvalContext, target: object, text: str | None = None, **query: str
) -> str | markupsafe.Markup:
    """The templates' `link` filter: ``{{ run_url|link }}``, ``{{ url|link("Öppna") }}``,
    ``{{ address|link(subject="Leverans TEL-000123") }}``.

    In an HTML template (autoescaped) a clickable ``<a href="…">text</a>``, escaped (``text``
    defaults to the address itself); in a text template the address alone. An e-mail address
    becomes a ``mailto:`` link (``query``: its subject or body, URL-encoded); a scheme other
    than http(s) or mailto is never linked, only shown."""
    shown = str(target)
    href = f"mailto:{shown}" if "@" in shown and "://" not in shown else shown
    if query:
        href += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    if not eval_ctx.autoescape:
        return shown
    if not href.lower().startswith(_LINKABLE):
        return markupsafe.escape(text or shown)
    return markupsafe.Markup('<a href="{}">{}</a>').format(href, text or shown)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty line
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.filters["link"] = link


def render(template: str, context: Mapping[str, Any]) -> Rendered:
    """Subject, plain text and HTML of a notice, from `templates/<template>.{subject,txt,html}`."""
    subject, text, html = (
        _env.get_template(f"{template}.{kind}.j2").render(**context)
        for kind in ("subject", "txt", "html")
    )
    subject = " ".join(subject.split())  # checked as sent: a line break may become a space
    for part in (subject, text, html):
        _refuse_personnummer(template, part)
    return Rendered(subject=subject, text=text, html=html)


def render_markdown(template: str, context: Mapping[str, Any]) -> str:
    """Markdown that people read where no mail goes (above a form), from
    `templates/<template>.md.j2`; refused, as a mail is, if it would show a personnummer."""
    markdown = _env.get_template(f"{template}.md.j2").render(**context).rstrip("\n")
    return _refuse_personnummer(template, markdown)


def _refuse_personnummer(template: str, rendered: str) -> str:
    if mask_personnummer(rendered) != rendered:
        raise PersonnummerInMail(f"mallen {template} skulle visa ett personnummer")
    return rendered


def sender_context(sender: Sender) -> dict[str, Any]:
    """What every template may use of its sender: the signature, the sender's address (to
    reply to) and the contact centre's (the footer's link)."""
    return {
        "signature": sender.signature,
        "sender_address": sender.address,
        "contact_centre": sender.contact_centre,
    }


def message_id(template: str, business_key: str, domain: str) -> str:
    identity = uuid.uuid5(MESSAGE_ID_NAMESPACE, template + "\0" + business_key)
    return f"<{identity}@{domain}>"


def enqueue(
    session: Session,
    *,
    template: str,
    business_key: str,
    recipient: str,
    context: Mapping[str, Any],
    sender: Sender,
    attachments: Sequence[Attachment] = (),
    sealed: bool = False,
) -> OutboxMessage:
    """Queue a notice in the caller's transaction; the same (template, key) twice is one mail."""
    existing = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.template == template, OutboxMessage.business_key == business_key
        )
    )
    if existing is not None:
        return existing
    content = render(template, {**sender_context(sender), **context})
    fixed_id = message_id(template, business_key, sender.domain)
    message = OutboxMessage(
        template=template,
        business_key=business_key,
        recipient=recipient,
        subject=content.subject,
        body_text=content.text,
        body_html=content.html,
        message_id=fixed_id,
        sealed=sealed,
        raw=build_message(
            recipient=recipient,
            subject=content.subject,
            text=content.text,
            html=content.html,
            message_id=fixed_id,
            sender=sender.address,
            sender_name=sender.name,
            attachments=[(a.filename, a.content_type, a.content) for a in attachments],
        ),
        attachments=[
            OutboxAttachment(filename=a.filename, content_type=a.content_type, content=a.content)
            for a in attachments
        ],
    )
    session.add(message)
    session.flush()
    return message


def enqueue_notice(session: Session, notice: Notice | None, sender: Sender) -> None:
    """Queue a notice (None: nobody to tell) from `sender`, in the caller's transaction."""
    if notice is not None:
        enqueue(
            session,
            template=notice.template,
            business_key=notice.business_key,
            recipient=notice.recipient,
            context=notice.context,
            sender=sender,
            sealed=notice.sealed,
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try a message again after a temporary refusal (RFC 5321 §4.5.4.1 spirit)."""

    max_attempts: int = 12
    base_seconds: float = 300.0
    factor: float = 2.0
    max_seconds: float = 4 * 3600.0
    jitter: float = 0.2  # ± share of the delay

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """The wait after the `attempts`-th failed attempt."""
        base = min(self.base_seconds * self.factor ** max(attempts - 1, 0), self.max_seconds)
        spread = base * self.jitter * (2 * (rng or random).random() - 1)
        return timedelta(seconds=max(base + spread, 0.0))

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
