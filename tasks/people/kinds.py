"""A kind of ask: what one process adds to the mechanism (a policy, not a reminder loop).

The mechanism opens, reminds, escalates, expires and answers every ask the same way; a kind
says what its asks say to people, which answers they take, and what an answer or the
deadline does to what it is about (in the same transaction as the answer).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from models.asks import Ask, AtDeadline
from models.notice import Notice
from models.register import Employee

if TYPE_CHECKING:
    from tasks.people.context import AskContext


class Purpose(enum.Enum):
    ASK = "ask"  # the first mail, with a code
    REMIND = "remind"  # no new code: the first still holds
    ESCALATE = "escalate"  # to the manager's manager, with a code of their own


class Kind(Protocol):
    name: str  # Ask.kind
    rule: str  # the guideline's §
    at_deadline: AtDeadline
    answers: Mapping[str, str]  # the answers a person may give → as people read them
    deadline_answer: str  # what the deadline answers, unless it only escalates

    def notice(
        self,
        session: Session,
        ask: Ask,
        to: Employee,
        *,
        purpose: Purpose,
        code: str | None,
        ctx: AskContext,
    ) -> Notice | None:
        """The mail that asks `to`, reminds them or escalates to them (None: no address)."""
        ...

    def not_allowed(self, ask: Ask, who: str, ctx: AskContext) -> str:
        """Why `who` may not answer, naming who may, in Swedish."""
        ...

    def answered(self, session: Session, ask: Ask, ctx: AskContext, now: datetime) -> None:
        """A person's answer (on `ask`) applied to what it is about."""
        ...

    def expired(self, session: Session, ask: Ask, ctx: AskContext, now: datetime) -> None:
        """The deadline's answer (on `ask`) applied to what it is about."""
        ...

    def wake_input(self, ask: Ask) -> dict[str, Any]:
        """What the waiting run's form is resumed with, once the ask is settled elsewhere."""
        ...
