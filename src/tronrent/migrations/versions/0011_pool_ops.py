"""Pools an operator runs: every change audited (``pool_changes``), removal keeps the row.

Revision ID: 0011_pool_ops
Revises: 0009_order_access
Create Date: 2026-12-04

``pool_changes``: who (``actor``, ``actor_id``) changed which pool how (``action``: ``edit`` |
``remove``; ``before``/``after``: the changed fields as JSON) and why (``reason``).
``energy_pools.removed_at``: set when an operator removed a pool with nothing delegated,
reserved or in flight; the row stays (delegations, transactions and changes reference it), its
key is erased and every listing hides it.

PostgreSQL: the application role (``DB_APP_ROLE``, see ``0003_app_role_grants``) gets SELECT,
INSERT on ``pool_changes`` (append-only, like the other history tables).
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0011_pool_ops"
down_revision: str | Sequence[str] | None = "0009_order_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch copy of energy_pools on SQLite)
    op.add_column(
        "energy_pools", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "pool_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before", JSON, nullable=False),
        sa.Column("after", JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("action IN ('edit', 'remove')", name=op.f("pool_changes_action_check")),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["admin_users.id"],
            name=op.f("pool_changes_actor_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["energy_pools.id"], name=op.f("pool_changes_pool_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pool_changes_pkey")),
    )
    op.create_index("idx_pool_changes_pool_id", "pool_changes", ["pool_id", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'GRANT SELECT, INSERT ON pool_changes TO "{_app_role()}"')


def _app_role() -> str:
    """``DB_APP_ROLE``, validated, as migration 0003 created it."""
    grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
    role: str = grants.app_role()
    return role


def downgrade() -> None:
    op.drop_index("idx_pool_changes_pool_id", table_name="pool_changes")
    op.drop_table("pool_changes")
    op.drop_column("energy_pools", "removed_at")
