"""The status an orphaned payment had before its block left the canonical chain.

Revision ID: 0037_orphan_status
Revises: 0036_catalogue_token
Create Date: 2026-12-05

A fork rewind marks the payments of vanished blocks ``orphaned``; when their transaction is
seen again on the new chain they go back to the status they had. That status was guessed from
the order link (``matched`` with an order, else ``received``), so a payment orphaned while a
refund was owed (``refunding``) came back ``matched`` and its refund was never sent.
``payments.status_before_orphan`` keeps it (written by the rewind, cleared on restore; NULL for
payments orphaned before this revision, which fall back to the old guess).

SQLite: the column and its CHECK are added with ``ALTER TABLE ... ADD COLUMN`` (a column
constraint), so the table is not rebuilt (its partial index stays as it is).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037_orphan_status"
down_revision: str | Sequence[str] | None = "0036_catalogue_token"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = (
    "'received', 'matched', 'dust', 'underpaid', 'excess', 'refunding', 'refunded', "
    "'ignored', 'orphaned'"
)
_CHECK = f"status_before_orphan IS NULL OR status_before_orphan IN ({_STATUSES})"
_NAME = "payments_status_before_orphan_check"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE payments ADD COLUMN status_before_orphan VARCHAR(20) "
            f"CONSTRAINT {_NAME} CHECK ({_CHECK})"
        )
        return
    op.add_column("payments", sa.Column("status_before_orphan", sa.String(20), nullable=True))
    op.create_check_constraint(op.f(_NAME), "payments", sa.text(_CHECK))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE payments DROP COLUMN status_before_orphan")
        return
    op.drop_constraint(op.f(_NAME), "payments", type_="check")
    op.drop_column("payments", "status_before_orphan")
