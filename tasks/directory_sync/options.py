"""What a run is asked to do."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.audit import Actor
from models.directory_sync import BrakeLimits
from models.outbox import Sender


@dataclass(frozen=True)
class SyncOptions:
    """What one run is asked to do, whom it tells, and in whose name it writes."""

    dry_run: bool = False
    allow_mass_removal: bool = False
    override_reason: str | None = None
    limits: BrakeLimits = field(default_factory=BrakeLimits)
    contact_centre_email: str = "kontaktcenter@example.invalid"
    sender: Sender = field(default_factory=lambda: Sender("telefoni@example.invalid"))
    municipality: str = ""
    actor: Actor = field(default_factory=lambda: Actor.system("directory-sync"))
    flow_run_id: str | None = None
