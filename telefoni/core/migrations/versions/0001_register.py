"""register: units, people, subscriptions, devices, directory

Revision ID: 0001
Revises:
Create Date: 2026-11-28 14:52:42.458409
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "cost_centre",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_centre")),
        sa.UniqueConstraint("code", name=op.f("uq_cost_centre_code")),
    )
    op.create_table(
        "org_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["org_unit.id"], name=op.f("fk_org_unit_parent_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_unit")),
        sa.UniqueConstraint("code", name=op.f("uq_org_unit_code")),
    )
    op.create_table(
        "phone_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manufacturer", sa.String(length=100), nullable=False),
        sa.Column("is_standard", sa.Boolean(), nullable=False),
        sa.Column("is_smartphone", sa.Boolean(), nullable=False),
        sa.Column("is_accessible", sa.Boolean(), nullable=False),
        sa.Column("is_rugged", sa.Boolean(), nullable=False),
        sa.Column("includes_headset", sa.Boolean(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_model")),
        sa.UniqueConstraint("name", name=op.f("uq_phone_model_name")),
    )
    op.create_table(
        "subscription_option",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("includes_data", sa.Boolean(), nullable=False),
        sa.Column("monthly_fee_sek", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_option")),
        sa.UniqueConstraint("code", name=op.f("uq_subscription_option_code")),
    )
    op.create_table(
        "employee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_number", sa.String(length=20), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("personnummer_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("personnummer_hash", sa.String(length=64), nullable=False),
        sa.Column("is_samordningsnummer", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=50), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("cost_centre_id", sa.Integer(), nullable=False),
        sa.Column("visiting_address", sa.String(length=300), nullable=True),
        sa.Column("keywords", sa.String(length=500), nullable=True),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("employment_start", sa.Date(), nullable=False),
        sa.Column("employment_end", sa.Date(), nullable=True),
        sa.Column("need_category", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "employment_end IS NULL OR employment_end >= employment_start",
            name=op.f("ck_employee_employment_period"),
        ),
        sa.CheckConstraint("need_category IN (1, 2, 3)", name=op.f("ck_employee_need_category")),
        sa.ForeignKeyConstraint(
            ["cost_centre_id"],
            ["cost_centre.id"],
            name=op.f("fk_employee_cost_centre_id_cost_centre"),
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["employee.id"], name=op.f("fk_employee_manager_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_unit.id"], name=op.f("fk_employee_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employee")),
        sa.UniqueConstraint("employee_number", name=op.f("uq_employee_employee_number")),
        sa.UniqueConstraint("personnummer_hash", name=op.f("uq_employee_personnummer_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_employee_user_id")),
    )
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employee_manager_id"), ["manager_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_employee_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "personal",
                "non_personal",
                name="subscription_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("designation", sa.String(length=200), nullable=True),
        sa.Column("option_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "ordered",
                "active",
                "blocked",
                "terminated",
                "transferred",
                name="subscription_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("has_data", sa.Boolean(), nullable=False),
        sa.Column("has_referral", sa.Boolean(), nullable=False),
        sa.Column("referral_calendar_link", sa.Boolean(), nullable=False),
        sa.Column("has_voicemail", sa.Boolean(), nullable=False),
        sa.Column("phone_hours", sa.String(length=200), nullable=True),
        sa.Column("is_on_call", sa.Boolean(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("cost_centre_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("visiting_address", sa.String(length=300), nullable=True),
        sa.Column("keywords", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'personal' AND owner_id IS NOT NULL AND designation IS NULL) OR (kind = 'non_personal' AND owner_id IS NULL AND designation IS NOT NULL)",
            name=op.f("ck_subscription_personal_owner_designation"),
        ),
        sa.CheckConstraint(
            "number LIKE '+%' AND length(number) BETWEEN 8 AND 16",
            name=op.f("ck_subscription_number_e164"),
        ),
        sa.CheckConstraint(
            "phone_hours IS NULL OR kind = 'non_personal'",
            name=op.f("ck_subscription_phone_hours_non_personal"),
        ),
        sa.ForeignKeyConstraint(
            ["cost_centre_id"],
            ["cost_centre.id"],
            name=op.f("fk_subscription_cost_centre_id_cost_centre"),
        ),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["subscription_option.id"],
            name=op.f("fk_subscription_option_id_subscription_option"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["employee.id"], name=op.f("fk_subscription_owner_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_unit.id"], name=op.f("fk_subscription_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
        sa.UniqueConstraint("number", name=op.f("uq_subscription_number")),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("imei", sa.String(length=15), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "ordered",
                "in_use",
                "in_stock",
                "lost",
                "stolen",
                "damaged",
                "returned",
                "factory_reset",
                "disposed",
                name="device_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column(
            "deviation_reason",
            sa.Enum(
                "accessibility",
                "rugged",
                name="deviation_reason",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("deviation_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("imei IS NULL OR length(imei) = 15", name=op.f("ck_device_imei_length")),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["employee.id"], name=op.f("fk_device_holder_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["phone_model.id"], name=op.f("fk_device_model_id_phone_model")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscription.id"],
            name=op.f("fk_device_subscription_id_subscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("imei", name=op.f("uq_device_imei")),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_holder_id"), ["holder_id"], unique=False)

    op.create_table(
        "directory_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "personal",
                "non_personal",
                name="directory_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("employee_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("designation", sa.String(length=200), nullable=True),
        sa.Column("phone_number", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("personnummer_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("personnummer_hash", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=50), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("cost_centre_id", sa.Integer(), nullable=False),
        sa.Column("visiting_address", sa.String(length=300), nullable=True),
        sa.Column("keywords", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'personal' AND employee_id IS NOT NULL AND name IS NOT NULL AND personnummer_hash IS NOT NULL AND designation IS NULL AND subscription_id IS NULL) OR (kind = 'non_personal' AND subscription_id IS NOT NULL AND designation IS NOT NULL AND phone_number IS NOT NULL AND employee_id IS NULL AND name IS NULL AND title IS NULL AND user_id IS NULL AND personnummer_encrypted IS NULL AND personnummer_hash IS NULL)",
            name=op.f("ck_directory_entry_personal_fields"),
        ),
        sa.ForeignKeyConstraint(
            ["cost_centre_id"],
            ["cost_centre.id"],
            name=op.f("fk_directory_entry_cost_centre_id_cost_centre"),
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employee.id"], name=op.f("fk_directory_entry_employee_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscription.id"],
            name=op.f("fk_directory_entry_subscription_id_subscription"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_unit.id"], name=op.f("fk_directory_entry_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_entry")),
        sa.UniqueConstraint("employee_id", name=op.f("uq_directory_entry_employee_id")),
        sa.UniqueConstraint("subscription_id", name=op.f("uq_directory_entry_subscription_id")),
    )
    op.create_table(
        "accessory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "headset",
                "charger",
                "case",
                "other",
                name="accessory_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_accessory_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["employee.id"], name=op.f("fk_accessory_holder_id_employee")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accessory")),
    )


def downgrade() -> None:

    op.drop_table("accessory")
    op.drop_table("directory_entry")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_holder_id"))

    op.drop_table("device")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_owner_id"))

    op.drop_table("subscription")
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employee_unit_id"))
        batch_op.drop_index(batch_op.f("ix_employee_manager_id"))

    op.drop_table("employee")
    op.drop_table("subscription_option")
    op.drop_table("phone_model")
    op.drop_table("org_unit")
    op.drop_table("cost_centre")
