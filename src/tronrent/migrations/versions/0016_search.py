"""Admin search over orders and payments; operator actions on payments audited.

Revision ID: 0016_search
Revises: 0013_products
Create Date: 2026-12-04

Indexes for the keyset pages of ``GET /api/admin/orders`` and ``GET /api/admin/payments``
(newest first: ``(created_at, id)``) and for the delegation tx hash filter
(``orders.delegate_tx_hash``). ``payment_changes``: who (``actor``, ``actor_id``) refunded or
matched which payment (``action``: ``refund`` | ``match``; ``before``/``after``: the changed
fields as JSON; ``order_id``: the order matched) and why (``reason``).

PostgreSQL: the application role (``DB_APP_ROLE``, see ``0003_app_role_grants``) gets SELECT,
INSERT on ``payment_changes`` (append-only, like the other history tables).
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0016_search"
down_revision: str | Sequence[str] | None = "0013_products"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("idx_orders_created_at_id", "orders", ["created_at", "id"]),
    ("idx_orders_delegate_tx_hash", "orders", ["delegate_tx_hash"]),
    ("idx_payments_created_at_id", "payments", ["created_at", "id"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "payment_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before", JSON, nullable=False),
        sa.Column("after", JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "action IN ('refund', 'match')", name=op.f("payment_changes_action_check")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["admin_users.id"],
            name=op.f("payment_changes_actor_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("payment_changes_payment_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("payment_changes_order_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("payment_changes_pkey")),
    )
    op.create_index(
        "idx_payment_changes_payment_id", "payment_changes", ["payment_id", "created_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'GRANT SELECT, INSERT ON payment_changes TO "{_app_role()}"')


def _app_role() -> str:
    """``DB_APP_ROLE``, validated, as migration 0003 created it."""
    grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
    role: str = grants.app_role()
    return role


def downgrade() -> None:
    op.drop_index("idx_payment_changes_payment_id", table_name="payment_changes")
    op.drop_table("payment_changes")
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
