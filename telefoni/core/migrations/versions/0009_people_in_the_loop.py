"""people in the loop: a person's step (ask) and its one-time codes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 01:24:04.725947

Every question put to a person is an `ask` row from now on. A mail that carries a one-time
code is `sealed`: the relay erases its content once it is sent. Orders that were already waiting
for their manager's decision get theirs here, asked when the manager was asked, due by the
municipality's deadline, with the reminders already sent: the reminders watch carries on with
them. Their managers got no one-time code in the mail of before: answering without one sends
them a code.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ask",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "answered",
                "expired",
                "withdrawn",
                name="ask_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("escalated_to_id", sa.Integer(), nullable=True),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("asked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("remind_every_hours", sa.Float(), nullable=False),
        sa.Column("escalate_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "at_deadline",
            sa.Enum(
                "reject",
                "deny",
                "escalate",
                name="ask_at_deadline",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("escalated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=40), nullable=True),
        sa.Column("answer_data", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=50), nullable=True),
        sa.Column("answered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("woken_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["employee.id"], name=op.f("fk_ask_assignee_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["escalated_to_id"], ["employee.id"], name=op.f("fk_ask_escalated_to_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_ask_municipality_id_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ask")),
        sa.UniqueConstraint(
            "kind", "object_type", "object_id", name=op.f("uq_ask_kind_object_type_object_id")
        ),
    )
    with op.batch_alter_table("ask", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ask_flow_run_id"), ["flow_run_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ask_municipality_id"), ["municipality_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ask_status"), ["status"], unique=False)

    op.create_table(
        "ask_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ask_id", sa.Integer(), nullable=False),
        sa.Column("employee_number", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("replaced_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ask_id"], ["ask.id"], name=op.f("fk_ask_code_ask_id_ask")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ask_code")),
    )
    with op.batch_alter_table("ask_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ask_code_ask_id"), ["ask_id"], unique=False)

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sealed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("onboarding_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ask_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_onboarding_order_ask_id"), ["ask_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_onboarding_order_ask_id_ask"), "ask", ["ask_id"], ["id"]
        )
    _asks_for_waiting_orders(op.get_bind())


ORDER = sa.table(
    "onboarding_order",
    sa.column("id", sa.Integer()),
    sa.column("municipality_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("approver_id", sa.Integer()),
    sa.column("flow_run_id", sa.String()),
    sa.column("approval_requested_at", UTCDateTime()),
    sa.column("reminders_sent", sa.Integer()),
    sa.column("ask_id", sa.Integer()),
)
MUNICIPALITY = sa.table(
    "municipality", sa.column("id", sa.Integer()), sa.column("code", sa.String())
)
ASK = sa.table(
    "ask",
    sa.column("id", sa.Integer()),
    *(
        sa.column(name, type_)  # type: ignore[arg-type]
        for name, type_ in [
            ("municipality_id", sa.Integer()),
            ("kind", sa.String()),
            ("object_type", sa.String()),
            ("object_id", sa.String()),
            ("title", sa.String()),
            ("rule", sa.String()),
            ("status", sa.String()),
            ("assignee_id", sa.Integer()),
            ("flow_run_id", sa.String()),
            ("asked_at", UTCDateTime()),
            ("due_at", UTCDateTime()),
            ("remind_every_hours", sa.Float()),
            ("at_deadline", sa.String()),
            ("reminders_sent", sa.Integer()),
            ("failed_attempts", sa.Integer()),
            ("answer_data", sa.JSON()),
            ("created_at", UTCDateTime()),
            ("updated_at", UTCDateTime()),
        ]
    ),
)


def _timing(code: str) -> tuple[float, float]:
    """(deadline days, reminder hours) of the municipality, as configured (or the defaults)."""
    from telefoni.core.municipalities import MunicipalityError
    from telefoni.core.settings import get_settings

    try:
        m = get_settings().kommun(code)
    except MunicipalityError:
        return 14.0, 48.0
    return m.approval_deadline_days, m.approval_reminder_hours


def _asks_for_waiting_orders(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.select(ORDER, MUNICIPALITY.c.code)
        .join(MUNICIPALITY, MUNICIPALITY.c.id == ORDER.c.municipality_id)
        .where(ORDER.c.status == "awaiting_approval", ORDER.c.approval_requested_at.is_not(None))
        .order_by(ORDER.c.id)
    ).all()
    runs: dict[tuple[int, str], list[sa.Row[Any]]] = {}  # one ask per waiting run (a batch: one)
    for row in rows:
        runs.setdefault((row.municipality_id, row.flow_run_id or f"order-{row.id}"), []).append(row)
    now = datetime.now(UTC)
    for orders in runs.values():
        lead = orders[0]
        days, hours = _timing(lead.code)
        reference = f"TEL-{lead.id:06d}"
        more = f" och {len(orders) - 1} till" if len(orders) > 1 else ""
        ask_id = bind.execute(
            ASK.insert()
            .values(
                municipality_id=lead.municipality_id,
                kind="onboarding_approval",
                object_type="onboarding_order",
                object_id=reference,
                title=f"Beslut om beställning {reference}{more}",
                rule="§4",
                status="open",
                assignee_id=lead.approver_id,
                flow_run_id=lead.flow_run_id,
                asked_at=lead.approval_requested_at,
                due_at=lead.approval_requested_at + timedelta(days=days),
                remind_every_hours=hours,
                at_deadline="reject",
                reminders_sent=lead.reminders_sent,
                failed_attempts=0,
                answer_data={},
                created_at=now,
                updated_at=now,
            )
            .returning(ASK.c.id)
        ).scalar_one()
        bind.execute(
            ORDER.update().where(ORDER.c.id.in_([o.id for o in orders])).values(ask_id=ask_id)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("sealed")
    with op.batch_alter_table("onboarding_order", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_onboarding_order_ask_id_ask"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_onboarding_order_ask_id"))
        batch_op.drop_column("ask_id")
    with op.batch_alter_table("ask_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ask_code_ask_id"))

    op.drop_table("ask_code")
    with op.batch_alter_table("ask", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ask_status"))
        batch_op.drop_index(batch_op.f("ix_ask_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_ask_flow_run_id"))

    op.drop_table("ask")
