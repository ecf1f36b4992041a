"""the municipality in the register

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:00:00.000000

Every row of the register now belongs to one municipality. A register that holds anything is
put, whole, in the installation's first configured municipality (`Settings.home`, or the one
`telefoni.core.migrate.upgrade` is given): the migration makes its row, writes its id into
every row, and notes how far the audit trail went (`municipality.audit_through`: the events
written before are that municipality's). Nothing else changes. An empty register gets no
municipality here; each is added when first used (`telefoni.core.tenancy`).

Employee numbers, personnummer, user ids, unit and cost-centre codes become unique within a
municipality; phone numbers, IMEIs and the catalogue's names stay unique across all.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose every row belongs to one municipality.
OWNED = (
    "org_unit",
    "cost_centre",
    "employee",
    "subscription",
    "device",
    "accessory",
    "directory_entry",
    "onboarding_order",
    "sync_run",
    "hr_quarantine",
)
# Tables whose rows may belong to one (the catalogue: None = shared by all).
MAYBE_OWNED = ("phone_model", "subscription_option")
# (table, columns) unique until now → unique within a municipality.
WITHIN = {
    "org_unit": (("code",),),
    "cost_centre": (("code",),),
    "employee": (("employee_number",), ("personnummer_hash",), ("user_id",)),
}


def _home() -> tuple[str, str]:
    """(code, name) of the municipality a register from before is put in."""
    given = context.config.attributes.get("municipality")
    if given is not None:
        code, name = given
        return str(code), str(name)
    from telefoni.core.settings import get_settings

    home = get_settings().home
    return home.code, home.name


def _holds_anything(bind: sa.Connection) -> bool:
    return any(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None
        for table in OWNED
    )


def upgrade() -> None:
    bind = op.get_bind()
    municipality = op.create_table(
        "municipality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("audit_through", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_municipality")),
        sa.UniqueConstraint("code", name=op.f("uq_municipality_code")),
        sa.UniqueConstraint("name", name=op.f("uq_municipality_name")),
    )
    home_id = None
    if _holds_anything(bind):
        code, name = _home()
        last_seq = bind.execute(sa.text("SELECT last_seq FROM audit_head WHERE id = 1")).scalar()
        bind.execute(
            sa.insert(municipality).values(
                id=1,
                code=code,
                name=name,
                audit_through=last_seq or None,
                created_at=datetime.now(UTC),
            )
        )
        home_id = 1
        if bind.dialect.name == "postgresql":
            op.execute("SELECT setval(pg_get_serial_sequence('municipality', 'id'), 1)")

    for table in OWNED:
        op.add_column(table, sa.Column("municipality_id", sa.Integer(), nullable=True))
        if home_id is not None:
            op.execute(f"UPDATE {table} SET municipality_id = {home_id}")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("municipality_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_municipality_id_municipality"),
                "municipality",
                ["municipality_id"],
                ["id"],
            )
            batch_op.create_index(
                batch_op.f(f"ix_{table}_municipality_id"), ["municipality_id"], unique=False
            )
            for columns in WITHIN.get(table, ()):
                batch_op.drop_constraint(f"uq_{table}_{'_'.join(columns)}", type_="unique")
                batch_op.create_unique_constraint(
                    batch_op.f(f"uq_{table}_municipality_id_{'_'.join(columns)}"),
                    ["municipality_id", *columns],
                )
    for table in MAYBE_OWNED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("municipality_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_municipality_id_municipality"),
                "municipality",
                ["municipality_id"],
                ["id"],
            )
    # Plain ADD COLUMN (no table copy on SQLite: the append-only triggers stay as they are).
    op.add_column("audit_event", sa.Column("municipality_id", sa.BigInteger(), nullable=True))
    op.create_index(
        op.f("ix_audit_event_municipality_id"), "audit_event", ["municipality_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_event_municipality_id"), table_name="audit_event")
    op.drop_column("audit_event", "municipality_id")
    for table in MAYBE_OWNED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_municipality_id_municipality"), type_="foreignkey"
            )
            batch_op.drop_column("municipality_id")
    for table in reversed(OWNED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for columns in WITHIN.get(table, ()):
                batch_op.drop_constraint(
                    f"uq_{table}_municipality_id_{'_'.join(columns)}", type_="unique"
                )
                batch_op.create_unique_constraint(f"uq_{table}_{'_'.join(columns)}", list(columns))
            batch_op.drop_index(batch_op.f(f"ix_{table}_municipality_id"))
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_municipality_id_municipality"), type_="foreignkey"
            )
            batch_op.drop_column("municipality_id")
    op.drop_table("municipality")
