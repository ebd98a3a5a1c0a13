"""Auto top-ups a customer starts, pauses and stops.

Revision ID: 0031_auto_customer
Revises: 0030_console_work
Create Date: 2026-12-04

A customer sets up their own auto top-up (the merchant API ``/api/v1/auto-top-ups``, the bot),
pauses, resumes and stops it: ``auto_top_ups.stopped_reason`` accepts ``customer`` (``balance``
and ``operator`` as before); ``paused``, ``pending_action`` and ``pending_txids`` carry a pause /
resume to the chain like a count package's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_auto_customer"
down_revision: str | Sequence[str] | None = "0030_console_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "'balance', 'operator'"
_NEW = "'balance', 'operator', 'customer'"


def _reasons(reasons: str) -> None:
    with op.batch_alter_table("auto_top_ups", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("auto_top_ups_stopped_reason_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("auto_top_ups_stopped_reason_check"), sa.text(f"stopped_reason IN ({reasons})")
        )


def upgrade() -> None:
    _reasons(_NEW)
    with op.batch_alter_table("auto_top_ups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("pending_action", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("pending_txids", sa.String(length=700), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auto_top_ups", schema=None) as batch_op:
        for column in ("pending_txids", "pending_action", "paused"):
            batch_op.drop_column(column)
    op.execute(
        "UPDATE auto_top_ups SET stopped_reason = 'operator' WHERE stopped_reason = 'customer'"
    )
    _reasons(_OLD)
