"""audit trail

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:58:32.569141
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The trail is append-only: the database itself refuses UPDATE and DELETE (and TRUNCATE).
REFUSAL = "audit_append_only: händelseloggen får inte ändras eller raderas"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_event_no_{op_name.lower()} BEFORE {op_name} ON audit_event
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"""
    for op_name in ("UPDATE", "DELETE")
] + [
    f"""CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"""
]

POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{REFUSAL} (%)', TG_OP
                USING ERRCODE = 'integrity_constraint_violation',
                      CONSTRAINT = 'audit_append_only';
        END $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
]


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("object_type", sa.String(length=50), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rule", sa.String(length=20), nullable=True),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_event_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_event_prev_hash")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_flow_run_id"), ["flow_run_id"], unique=False
        )
        batch_op.create_index("ix_audit_event_object", ["object_type", "object_id"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(
        sa.text(
            "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :genesis)"
        ).bindparams(genesis="0" * 64)
    )
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_append_only() CASCADE")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_object")
        batch_op.drop_index(batch_op.f("ix_audit_event_flow_run_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))

    op.drop_table("audit_event")
