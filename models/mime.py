"""A notice as the bytes of an RFC 5322 message, built once when it is queued.

The relay sends these bytes as they are, so every resend is byte-identical (same Message-ID,
same Date) and sending costs no MIME work.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from email.header import Header
from email.policy import Compat32
from functools import lru_cache
from typing import Any

from emails.message import Message

# Building a mail costs more than sending it over a local connection; three changes below
# halve the cost without changing what a mail client sees (bench/relay.py measures it).


class _Compat32(Compat32):
    """compat32 that writes a short, plain ASCII header as it is: the same bytes as compat32,
    without running every header (17 a mail) through `email.header.Header` folding."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        limit = self.max_line_length  # None or 0: no limit
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and value == value.strip()
            and (not limit or len(name) + 2 + len(value) <= limit)
        ):
            return f"{name}: {value}{self.linesep}"
        return str(super()._fold(name, value, sanitize))  # type: ignore[misc]


class _Message(Message):
    """An `emails` Message whose multipart boundaries are chosen before it is written.

    Left unset, the stdlib generator picks each boundary while writing and compiles a regex to
    check it against the text (three a mail). A random 128-bit boundary that begins with "=_"
    cannot occur in the base64 parts `emails` writes.
    """

    policy = _Compat32()  # type: ignore[assignment]  # emails declares it None

    def build_message(self, message_cls: type | None = None) -> Any:
        msg = super().build_message(message_cls)
        for part in msg.walk():
            if part.is_multipart():
                part.set_boundary(f"=_{secrets.token_hex(16)}")
        return msg


def _encoded_words(value: str, header_name: str) -> str:
    """A non-ASCII header value as RFC 2047 encoded words (base64), on one line.

    Left to the generator it is encoded while the mail is written, with a quoted-printable
    length check per character.
    """
    if value.isascii():
        return value
    return " ".join(Header(value, "utf-8", header_name=header_name).encode().split())


@lru_cache(maxsize=16)
def _display_name(name: str) -> str:
    return _encoded_words(name, "From")


def build_message(
    *,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    sender: str,
    sender_name: str,
    attachments: Sequence[tuple[str, str, bytes]] = (),  # name, content type, content
) -> bytes:
    """The whole message, headers and parts, with the `emails` package."""
    message = _Message(
        subject=_encoded_words(subject, "Subject"),
        text=text,
        html=html,
        mail_from=(_display_name(sender_name), sender),
        mail_to=recipient,
        message_id=message_id,
    )
    for filename, content_type, content in attachments:
        message.attach(
            data=content,
            filename=filename,
            content_disposition="attachment",
            mime_type=content_type,
        )
    return bytes(message.as_bytes())
