"""Console pages at scale: the overview's refunds and activations, an order's refunds.

Revision ID: 0029_console_cover
Revises: 0028_retention
Create Date: 2026-12-04

``idx_chain_transactions_money_out``: ``chain_transactions (created_at)`` for the purposes
that cost the operator money on an order (``refund``, ``refund_rest``, ``activate``), partial
on both databases. The overview (``tronrent.order.figures``) sums the last 30 days of them
per order day: a few rows of this small index instead of every chain transaction (delegations
and reclaims are most of them).

``idx_chain_transactions_payment_id``: ``chain_transactions (payment_id)`` where it is set
(refunds): an order's story (``order.admin.story``, the console's order page and
``GET /api/admin/orders/{id}``) reads the transactions naming the order OR its payments; without
an index on ``payment_id`` that OR was a sequential scan of every chain transaction (0.4 s at
1.4 million, ``bench/console_pages.py``). Both databases.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_console_cover"
down_revision: str | Sequence[str] | None = "0028_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = "purpose IN ('refund', 'refund_rest', 'activate')"


def upgrade() -> None:
    op.create_index(
        "idx_chain_transactions_payment_id",
        "chain_transactions",
        ["payment_id"],
        postgresql_where=sa.text("payment_id IS NOT NULL"),
        sqlite_where=sa.text("payment_id IS NOT NULL"),
    )
    op.create_index(
        "idx_chain_transactions_money_out",
        "chain_transactions",
        ["created_at"],
        postgresql_where=sa.text(_WHERE),
        sqlite_where=sa.text(_WHERE),
    )


def downgrade() -> None:
    op.drop_index("idx_chain_transactions_payment_id", table_name="chain_transactions")
    op.drop_index("idx_chain_transactions_money_out", table_name="chain_transactions")
