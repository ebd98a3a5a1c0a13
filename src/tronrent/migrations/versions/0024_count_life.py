"""Count packages: idle fees, pause / resume, the end of an unused package.

Revision ID: 0024_count_life
Revises: 0022_pool_keys
Create Date: 2026-12-04

``count_packages`` gains the idle bookkeeping in chain time (``idle_since_block``,
``idle_charged``), the pause (``paused_at``, ``pending_action``, ``pending_txids``) and the end
(``end_reason``, ``settled_at``, ``refunded_units``; packages already over are marked settled).
``count_package_uses.status`` gains ``counted`` (counted while paused: no top-up).
``count_package_changes`` gains ``kind`` (adjust, idle_fee, pause, resume, ended), ``counts``
and a unique ``dedupe_key`` (a system change happens once).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_count_life"
down_revision: str | Sequence[str] | None = "0022_pool_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_USES = "'seen', 'topping_up', 'topped_up', 'last', 'not_counted'"
_NEW_USES = _OLD_USES + ", 'counted'"
_KINDS = "'adjust', 'idle_fee', 'pause', 'resume', 'ended'"


def _uses_check(statuses: str) -> None:
    with op.batch_alter_table("count_package_uses", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("count_package_uses_status_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("count_package_uses_status_check"), sa.text(f"status IN ({statuses})")
        )


def upgrade() -> None:
    with op.batch_alter_table("count_packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idle_since_block", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("idle_charged", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pending_action", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("pending_txids", sa.String(length=700), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refunded_units", sa.BigInteger(), nullable=True))
    # packages over before this revision: their unused counts lapsed (nothing to settle now)
    op.execute(
        "UPDATE count_packages SET settled_at = updated_at WHERE order_id IN "
        "(SELECT id FROM orders WHERE status NOT IN ('pending', 'paid', 'delegating', 'active',"
        " 'reclaiming'))"
    )
    _uses_check(_NEW_USES)
    with op.batch_alter_table("count_package_changes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="adjust", nullable=False)
        )
        batch_op.add_column(sa.Column("counts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=150), nullable=True))
        batch_op.create_check_constraint(
            op.f("count_package_changes_kind_check"), sa.text(f"kind IN ({_KINDS})")
        )
        batch_op.create_unique_constraint(
            op.f("count_package_changes_dedupe_key_key"), ["dedupe_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("count_package_changes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("count_package_changes_dedupe_key_key"), type_="unique")
        batch_op.drop_constraint(op.f("count_package_changes_kind_check"), type_="check")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("counts")
        batch_op.drop_column("kind")
    op.execute("UPDATE count_package_uses SET status = 'topped_up' WHERE status = 'counted'")
    _uses_check(_OLD_USES)
    with op.batch_alter_table("count_packages", schema=None) as batch_op:
        for name in (
            "refunded_units",
            "settled_at",
            "end_reason",
            "pending_txids",
            "pending_action",
            "paused_at",
            "idle_charged",
            "idle_since_block",
        ):
            batch_op.drop_column(name)
