"""What a run is asked to do, and for which municipality."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.audit import Actor
from models.directory_sync import BrakeLimits
from models.outbox import Sender
from telefoni.core.municipalities import MunicipalitySettings
from telefoni.core.tenancy import sender_of

LOCK_NAME = "directory-sync"


@dataclass(frozen=True)
class SyncMunicipality:
    """The municipality a run is for: its register id (every read is filtered to it, every
    row written carries it), its code (the lock's name) and its name (the mail's words)."""

    id: int
    code: str
    name: str

    @property
    def lock_name(self) -> str:
        """One sync at a time per municipality: `directory-sync:<code>`."""
        return f"{LOCK_NAME}:{self.code}"


@dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """What one run is asked to do, for whom, whom it tells, and in whose name it writes."""

    municipality: SyncMunicipality
    dry_run: bool = False
    allow_mass_removal: bool = False
    override_reason: str | None = None
    limits: BrakeLimits = field(default_factory=BrakeLimits)
    contact_centre_email: str = "kontaktcenter@example.invalid"
    sender: Sender = field(default_factory=lambda: Sender("telefoni@example.invalid"))
    actor: Actor = field(default_factory=lambda: Actor.system("directory-sync"))
    flow_run_id: str | None = None
    #: HR's header → ours (the municipality's `hr_column_map`): the quarantine names a field
    #: as HR's file does.
    hr_columns: dict[str, str] = field(default_factory=dict)
    run_url: str | None = None  # the run in the Prefect UI, linked from the mail
    #: Days before an employment ends that the sync starts its offboarding (§8.1).
    offboarding_window_days: int = 14


def options_from(
    municipality: MunicipalitySettings,
    municipality_id: int,
    *,
    dry_run: bool,
    allow_mass_removal: bool,
    reason: str | None,
    actor: Actor,
    flow_run_id: str | None,
    run_url: str | None = None,
) -> SyncOptions:
    """A run of ``municipality`` (its register id ``municipality_id``): its brake, its contact
    centre, its sender."""
    if allow_mass_removal and not (reason and reason.strip()):
        raise ValueError("--allow-mass-removal kräver en anledning (--reason)")
    m = municipality
    return SyncOptions(
        municipality=SyncMunicipality(id=municipality_id, code=m.code, name=m.name),
        dry_run=dry_run,
        allow_mass_removal=allow_mass_removal,
        override_reason=reason,
        limits=BrakeLimits(
            max_removal_share=m.sync_max_removal_share,
            max_removal_count=m.sync_max_removal_count,
            max_shrink_share=m.sync_max_shrink_share,
        ),
        contact_centre_email=str(m.contact_centre_email),
        sender=sender_of(m),
        actor=actor,
        flow_run_id=flow_run_id,
        hr_columns=dict(m.hr_column_map),
        run_url=run_url,
        offboarding_window_days=m.offboarding_window_days,
    )
