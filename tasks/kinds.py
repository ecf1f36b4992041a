"""Every kind of ask the system puts to people, by name: what the reminders watch and the
answering commands look up (a new process that waits for someone adds its kind here)."""

from __future__ import annotations

from tasks.onboarding.approved import APPROVAL
from tasks.people.kinds import Kind

KINDS: dict[str, Kind] = {kind.name: kind for kind in (APPROVAL,)}
