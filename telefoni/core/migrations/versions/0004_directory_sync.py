"""directory sync

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 15:19:06.296205
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "applied",
                "dry_run",
                "braked",
                name="sync_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_applied", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("joiners", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("leavers", sa.Integer(), nullable=False),
        sa.Column("mass_removal_allowed", sa.Boolean(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_run")),
    )
    op.create_table(
        "hr_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sync_run_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("employee_number", sa.String(length=20), nullable=True),
        sa.Column("field", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sync_run_id"], ["sync_run.id"], name=op.f("fk_hr_quarantine_sync_run_id_sync_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hr_quarantine")),
    )
    with op.batch_alter_table("hr_quarantine", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hr_quarantine_sync_run_id"), ["sync_run_id"], unique=False
        )

    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_at", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.drop_column("left_at")

    with op.batch_alter_table("hr_quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hr_quarantine_sync_run_id"))

    op.drop_table("hr_quarantine")
    op.drop_table("sync_run")
