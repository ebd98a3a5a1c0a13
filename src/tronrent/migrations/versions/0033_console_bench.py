"""The overview's month of sales read from one index (PostgreSQL); one index fewer on orders.

Revision ID: 0033_console_bench
Revises: 0032_console_biz
Create Date: 2026-12-05

The console overview's sales (``tronrent.order.figures.sales_statement``) read the orders of
the last 30 days (~82,000 at 1,000,000 orders a year) by day, product and currency with their
refunds and activations. On PostgreSQL ``idx_orders_created_at_id`` (the key
``(created_at, id)`` unchanged) now includes every column that read takes
(``order_type, currency, paid_at, paid_amount_units, activation_fee_sun``): an index-only scan
instead of an index scan with a heap fetch per order (``bench/console_pages.py``).

``idx_orders_created_at`` (``created_at`` alone) is dropped on both databases: every query it
served is served by ``(created_at, id)``, so orders keep one index fewer to maintain. An
order's payment, which sets ``paid_at`` and ``paid_amount_units``, already changes its indexed
``status`` (no HOT update lost).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033_console_bench"
down_revision: str | Sequence[str] | None = "0032_console_biz"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the columns of the overview's sales read (tronrent.order.figures.sales_statement)
_INCLUDE = ["order_type", "currency", "paid_at", "paid_amount_units", "activation_fee_sun"]


def upgrade() -> None:
    op.drop_index("idx_orders_created_at", table_name="orders")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("idx_orders_created_at_id", table_name="orders")
        op.create_index(
            "idx_orders_created_at_id", "orders", ["created_at", "id"], postgresql_include=_INCLUDE
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("idx_orders_created_at_id", table_name="orders")
        op.create_index("idx_orders_created_at_id", "orders", ["created_at", "id"])
    op.create_index("idx_orders_created_at", "orders", ["created_at"])
