"""A pool the sync finds unusable is flagged: why, since when; the sync clears its own flags.

Revision ID: 0006_pool_health
Revises: 0005
Create Date: 2026-12-04

``flag`` (``account_missing`` | ``no_stake`` | ``key_mismatch`` | ``unchecked``) is set only
together with ``status = 'maintenance'`` (a CHECK), so every query that uses active pools skips a
flagged one; a pool an operator disabled has no flag and is never reactivated by the sync.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_pool_health"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("energy_pools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flag", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("flag_reason", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f("energy_pools_flag_check"),
            "flag IN ('account_missing', 'no_stake', 'key_mismatch', 'unchecked')",
        )
        batch_op.create_check_constraint(
            op.f("energy_pools_flag_status_check"), "flag IS NULL OR status = 'maintenance'"
        )


def downgrade() -> None:
    with op.batch_alter_table("energy_pools", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("energy_pools_flag_status_check"), type_="check")
        batch_op.drop_constraint(op.f("energy_pools_flag_check"), type_="check")
        batch_op.drop_column("flagged_at")
        batch_op.drop_column("flag_reason")
        batch_op.drop_column("flag")
