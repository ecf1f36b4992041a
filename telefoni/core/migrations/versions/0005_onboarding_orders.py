"""onboarding orders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 17:52:59.974858
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "onboarding_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("request_attempt", sa.Integer(), nullable=False),
        sa.Column("batch_key", sa.String(length=80), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "refused",
                "awaiting_approval",
                "rejected",
                "approved",
                "ordering",
                "ordered",
                "delivered",
                "registered",
                "completed",
                name="onboarding_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("need_category", sa.SmallInteger(), nullable=False),
        sa.Column("phone_model_id", sa.Integer(), nullable=True),
        sa.Column("phone_model_name", sa.String(length=200), nullable=False),
        sa.Column(
            "deviation_reason",
            sa.Enum(
                "accessibility",
                "rugged",
                name="onboarding_deviation",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("deviation_note", sa.Text(), nullable=True),
        sa.Column("headset", sa.Boolean(), nullable=False),
        sa.Column("subscription_option_id", sa.Integer(), nullable=True),
        sa.Column("subscription_option_code", sa.String(length=20), nullable=False),
        sa.Column("data", sa.Boolean(), nullable=False),
        sa.Column("referral", sa.Boolean(), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("replacement", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=50), nullable=False),
        sa.Column("wanted_by", sa.Date(), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=50), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("approval_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("approval_round", sa.Integer(), nullable=False),
        sa.Column("delivery_round", sa.Integer(), nullable=False),
        sa.Column("operator_key", sa.String(length=80), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("operator_reference", sa.String(length=100), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("number", sa.String(length=16), nullable=True),
        sa.Column("imei", sa.String(length=15), nullable=True),
        sa.Column("sim", sa.String(length=22), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["employee.id"], name=op.f("fk_onboarding_order_approver_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_onboarding_order_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employee.id"], name=op.f("fk_onboarding_order_employee_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["phone_model_id"],
            ["phone_model.id"],
            name=op.f("fk_onboarding_order_phone_model_id_phone_model"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscription.id"],
            name=op.f("fk_onboarding_order_subscription_id_subscription"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_option_id"],
            ["subscription_option.id"],
            name=op.f("fk_onboarding_order_subscription_option_id_subscription_option"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_order")),
        sa.UniqueConstraint("operator_key", name=op.f("uq_onboarding_order_operator_key")),
        sa.UniqueConstraint(
            "request_key",
            "request_attempt",
            name=op.f("uq_onboarding_order_request_key_request_attempt"),
        ),
    )
    with op.batch_alter_table("onboarding_order", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_onboarding_order_batch_key"), ["batch_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_onboarding_order_employee_id"), ["employee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_onboarding_order_flow_run_id"), ["flow_run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("onboarding_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_onboarding_order_flow_run_id"))
        batch_op.drop_index(batch_op.f("ix_onboarding_order_employee_id"))
        batch_op.drop_index(batch_op.f("ix_onboarding_order_batch_key"))

    op.drop_table("onboarding_order")
