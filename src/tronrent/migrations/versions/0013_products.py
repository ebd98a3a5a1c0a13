"""Products: balance top-up orders, the quantity of a package order.

Revision ID: 0013_products
Revises: 0012_catalog
Create Date: 2026-12-04

``orders.order_type`` accepts ``balance_top_up`` (a transfer credited to the user's balance,
see tronrent.product.topup); ``orders.quantity`` is the number of packages a package order
bought (NULL for flash orders and top-ups).
"""

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0013_products"
down_revision: str | Sequence[str] | None = "0012_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_TYPES = "'energy_flash', 'energy_rental', 'transaction_package'"
_NEW_TYPES = _OLD_TYPES + ", 'balance_top_up'"


@contextmanager
def _orders_rebuilt() -> Iterator[None]:
    """SQLite rebuilds ``orders`` (batch mode) and refuses while a view reads it: the view of
    0002 is dropped for the rebuild and created again."""
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    views = importlib.import_module("tronrent.migrations.versions.0002_views_initial_data")
    op.execute("DROP VIEW IF EXISTS payment_monitoring_status")
    yield
    op.execute(
        views.PAYMENT_MONITORING_STATUS_SQL.format(is_expired=views.IS_EXPIRED_SQL["sqlite"])
    )


def _order_types(types: str) -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("orders_order_type_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("orders_order_type_check"), sa.text(f"order_type IN ({types})")
        )


def upgrade() -> None:
    with _orders_rebuilt():
        _order_types(_NEW_TYPES)
        with op.batch_alter_table("orders", schema=None) as batch_op:
            batch_op.add_column(sa.Column("quantity", sa.Integer(), nullable=True))
            batch_op.create_check_constraint(op.f("orders_quantity_check"), sa.text("quantity > 0"))


def downgrade() -> None:
    with _orders_rebuilt():
        with op.batch_alter_table("orders", schema=None) as batch_op:
            batch_op.drop_constraint(op.f("orders_quantity_check"), type_="check")
            batch_op.drop_column("quantity")
        _order_types(_OLD_TYPES)
