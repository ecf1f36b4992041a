"""hr digest

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty for everyone: the first sync after this compares every row in full and fills it.
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hr_digest", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.drop_column("hr_digest")
