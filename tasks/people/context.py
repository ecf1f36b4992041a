"""What the mechanism of people's steps needs to know of one municipality."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models.asks import Timing
from models.audit import Actor
from models.notice import Notice
from models.outbox import Sender, enqueue_notice
from telefoni.core.municipalities import MunicipalitySettings
from telefoni.core.settings import Settings
from telefoni.core.tenancy import sender_of
from telefoni.core.vault import answer_code_key

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DEFAULT_TIMING = Timing(timedelta(days=14), timedelta(hours=48), timedelta(days=7))


@dataclass(frozen=True)
class AskContext:
    """One municipality's surroundings of its asks: who sends, who else may answer, whom to
    tell when an ask locks, the key its codes are hashed with, how long its asks wait."""

    sender: Sender
    municipality: str  # its name, as people read it
    municipality_id: int
    admin_email: str
    code_key: bytes = field(repr=False)
    ui_url: str
    deputies: frozenset[str] = frozenset()
    timing: Timing = DEFAULT_TIMING
    tz: ZoneInfo = STOCKHOLM
    max_attempts: int = 5
    max_codes: int = 3
    flow_run_id: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor.flow_run(self.flow_run_id) if self.flow_run_id else Actor.system("reminders")

    def run_url(self, flow_run_id: str | None) -> str:
        if not flow_run_id:
            return f"{self.ui_url.rstrip('/')}/runs"
        return f"{self.ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"

    def queue(self, session: Session, notice: Notice | None) -> None:
        """Queue a notice in the caller's transaction (None: nobody to tell)."""
        enqueue_notice(session, notice, self.sender)


def timing_of(municipality: MunicipalitySettings) -> Timing:
    """How long the municipality's asks wait: its deadline, reminder interval, escalation."""
    escalation = municipality.approval_escalation_days
    return Timing(
        deadline=timedelta(days=municipality.approval_deadline_days),
        remind_every=timedelta(hours=municipality.approval_reminder_hours),
        escalate_after=timedelta(days=escalation) if escalation > 0 else None,
    )


def ask_context_from(
    settings: Settings,
    municipality: MunicipalitySettings,
    municipality_id: int,
    flow_run_id: str | None = None,
) -> AskContext:
    return AskContext(
        sender=sender_of(municipality),
        municipality=municipality.name,
        municipality_id=municipality_id,
        admin_email=str(municipality.admin_email),
        code_key=answer_code_key(settings),
        ui_url=settings.prefect_ui_url,
        deputies=municipality.deputies,
        timing=timing_of(municipality),
        tz=settings.tz,
        max_attempts=settings.answer_max_attempts,
        max_codes=settings.answer_max_codes,
        flow_run_id=flow_run_id,
    )
