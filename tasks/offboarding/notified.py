"""notified: the contact centre is told, once per offboarding, what to register (§8.1), when
everything else is done; then the offboarding is complete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from models import audit
from models import offboarding_notices as notices
from models.asks import SYSTEM
from models.offboarding import Offboarding, OffboardingStatus, Task
from tasks.offboarding.base import Context, event, load
from tasks.offboarding.handed_over import settled


def notify(session: Session, ids: Sequence[int], *, ctx: Context, now: datetime) -> int:
    """Tell the contact centre of each settled offboarding and complete it; returns how many
    were completed now."""
    done: list[Offboarding] = [
        o for o in load(session, ids, OffboardingStatus.CARRYING_OUT) if settled(o)
    ]
    records = []
    for off in done:
        if off.contact_centre_told_at is None:
            ctx.queue(
                session,
                notices.contact_centre(
                    off, to=ctx.contact_centre_email, municipality=ctx.municipality
                ),
            )
            off.contact_centre_told_at = now
            for item in off.items:
                for c in item.checklist:
                    if c.task is Task.CONTACT_CENTRE_INFORMED and c.attested_at is None:
                        c.attested_by, c.attested_at = SYSTEM, now
            records.append(
                event(
                    ctx,
                    off,
                    "contact_centre_told",
                    rule="§8.1",
                    reason=f"besked till kontaktcenter ({ctx.contact_centre_email}) "
                    "för registrering",
                )
            )
        off.status, off.completed_at = OffboardingStatus.COMPLETED, now
        records.append(event(ctx, off, "completed", rule="§8.1", reason="avslutet är klart"))
    audit.record_many(session, records)
    return len(done)
