"""Every kind of ask the system puts to people, by name: what the reminders watch and the
answering commands look up (a new process that waits for someone adds its kind here), and
the other waits the watch ends (a day that has come)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from tasks.offboarding.attested import CHECKLIST
from tasks.offboarding.confirmed import PLAN
from tasks.offboarding.waiting import to_wake as last_days
from tasks.onboarding.approved import APPROVAL
from tasks.people.context import AskContext
from tasks.people.kinds import Kind
from tasks.people.watching import Wake

KINDS: dict[str, Kind] = {kind.name: kind for kind in (APPROVAL, PLAN, CHECKLIST)}

# Runs waiting for a day rather than a person: (session, municipality, now) → runs to wake.
DAYS: tuple[Callable[[Session, AskContext, datetime], list[Wake]], ...] = (
    lambda session, ctx, now: last_days(session, ctx=ctx, now=now),
)
