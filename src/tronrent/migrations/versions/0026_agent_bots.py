"""Agents' own bots and orders attributed to an agent (issue 12).

Revision ID: 0026_agent_bots
Revises: 0022_pool_keys
Create Date: 2026-12-04

``bots.owner_agent_id``: an agent's own bot; it stays ``inactive`` until an operator approves it
(``approved_by``, ``approved_at``) and sells with the agent's ``agent_markup_bps`` within the
operator's ``min_markup_bps..max_markup_bps``. ``orders.agent_id``: the agent whose bot took the
order; ``orders.agent_markup_units``: the agent's markup in the order's final price.
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_agent_bots"
down_revision: str | Sequence[str] | None = "0025_auto_topup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARKUP = (
    "min_markup_bps >= 0 AND min_markup_bps <= agent_markup_bps"
    " AND agent_markup_bps <= max_markup_bps AND max_markup_bps <= 10000"
)
_APPROVED = "owner_agent_id IS NULL OR approved_at IS NOT NULL OR status = 'inactive'"


def _products() -> object:
    # its ``_orders_rebuilt``: SQLite rebuilds ``orders`` only with the view on it dropped
    return importlib.import_module("tronrent.migrations.versions.0013_products")


def upgrade() -> None:
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_agent_id", sa.Uuid(), nullable=True))
        for name in ("agent_markup_bps", "min_markup_bps", "max_markup_bps"):
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("approved_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            op.f("bots_owner_agent_id_fkey"), "agents", ["owner_agent_id"], ["id"]
        )
        batch_op.create_foreign_key(
            op.f("bots_approved_by_fkey"),
            "admin_users",
            ["approved_by"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("idx_bots_owner_agent_id", ["owner_agent_id"], unique=False)
        batch_op.create_check_constraint(op.f("bots_agent_markup_check"), sa.text(_MARKUP))
        batch_op.create_check_constraint(op.f("bots_agent_bot_approved_check"), sa.text(_APPROVED))
    with _products()._orders_rebuilt(), op.batch_alter_table("orders") as batch_op:  # type: ignore[attr-defined]
        batch_op.add_column(sa.Column("agent_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("agent_markup_units", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_foreign_key(op.f("orders_agent_id_fkey"), "agents", ["agent_id"], ["id"])
        batch_op.create_index("idx_orders_agent_id", ["agent_id"], unique=False)
        batch_op.create_check_constraint(
            op.f("orders_agent_markup_check"), sa.text("agent_markup_units >= 0")
        )


def downgrade() -> None:
    with _products()._orders_rebuilt(), op.batch_alter_table("orders") as batch_op:  # type: ignore[attr-defined]
        batch_op.drop_constraint(op.f("orders_agent_markup_check"), type_="check")
        batch_op.drop_index("idx_orders_agent_id")
        batch_op.drop_constraint(op.f("orders_agent_id_fkey"), type_="foreignkey")
        batch_op.drop_column("agent_markup_units")
        batch_op.drop_column("agent_id")
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("bots_agent_bot_approved_check"), type_="check")
        batch_op.drop_constraint(op.f("bots_agent_markup_check"), type_="check")
        batch_op.drop_index("idx_bots_owner_agent_id")
        batch_op.drop_constraint(op.f("bots_approved_by_fkey"), type_="foreignkey")
        batch_op.drop_constraint(op.f("bots_owner_agent_id_fkey"), type_="foreignkey")
        for name in ("approved_at", "approved_by", "max_markup_bps", "min_markup_bps"):
            batch_op.drop_column(name)
        batch_op.drop_column("agent_markup_bps")
        batch_op.drop_column("owner_agent_id")
