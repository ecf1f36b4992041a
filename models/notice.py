"""A notice: one e-mail to queue, as data for its template (`models/templates/<template>.*`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Notice:
    """One e-mail to queue."""

    template: str
    business_key: str  # with the template, the mail's identity: queued twice, sent once
    recipient: str
    context: dict[str, Any]
    sealed: bool = False  # holds a one-time code: its content is erased once it is sent
