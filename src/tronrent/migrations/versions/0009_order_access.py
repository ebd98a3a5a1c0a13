"""A customer's order is theirs: the hash of the order token returned by create-order.

Revision ID: 0009_order_access
Revises: 0008_engine_limbo
Create Date: 2026-12-04

``orders.access_token_hash``: SHA-256 (hex) of the secret order token an HTTP customer received
once at create-order and presents (``X-Order-Token``) to cancel or confirm. NULL for orders
created in the Telegram bot (owned by their chat), walk-in payments and older orders.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_order_access"
down_revision: str | Sequence[str] | None = "0008_engine_limbo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN: a batch copy of orders would break the views built on it (SQLite)
    op.add_column("orders", sa.Column("access_token_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "access_token_hash")
