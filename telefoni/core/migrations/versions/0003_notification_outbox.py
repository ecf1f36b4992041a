"""notification outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 15:02:50.480632
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "dead",
                name="outbox_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_message_id")),
        sa.UniqueConstraint(
            "template", "business_key", name=op.f("uq_outbox_message_template_business_key")
        ),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_message_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "outbox_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_message.id"],
            name=op.f("fk_outbox_attachment_message_id_outbox_message"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attachment")),
    )
    with op.batch_alter_table("outbox_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_attachment_message_id"), ["message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_attachment_message_id"))

    op.drop_table("outbox_attachment")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_due")

    op.drop_table("outbox_message")
