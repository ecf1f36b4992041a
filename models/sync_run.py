"""The directory sync's records: each run, what it read and did, and the rows it quarantined.

Apart from the sync's plan (`models.directory_sync`, pandas): the schema and every command
that checks it load these without pandas.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, intpk, utcnow


class SyncStatus(enum.StrEnum):
    APPLIED = "applied"
    DRY_RUN = "dry_run"
    BRAKED = "braked"  # stopped before writing: it would remove too much


class SyncRun(Base):
    """One run of the directory sync: what it read, what it did, and why it stopped."""

    __tablename__ = "sync_run"

    id: Mapped[intpk]
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    file_name: Mapped[str] = mapped_column(String(500))
    file_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[SyncStatus] = mapped_column(
        Enum(
            SyncStatus,
            name="sync_status",
            native_enum=False,
            create_constraint=True,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_applied: Mapped[int] = mapped_column(Integer)
    rows_unchanged: Mapped[int] = mapped_column(Integer)
    rows_quarantined: Mapped[int] = mapped_column(Integer)
    joiners: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    leavers: Mapped[int] = mapped_column(Integer)
    mass_removal_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))


class HrQuarantine(Base):
    """A row of an HR export that was not used, with the reason per field (values masked)."""

    __tablename__ = "hr_quarantine"

    id: Mapped[intpk]
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    sync_run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    employee_number: Mapped[str | None] = mapped_column(String(20))
    field: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(String(50))
    detail: Mapped[str | None] = mapped_column(Text)
