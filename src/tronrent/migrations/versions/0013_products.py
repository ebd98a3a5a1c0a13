"""Products: balance top-up orders, the quantity of a package order.

Revision ID: 0013_products
Revises: 0011_pool_ops
Create Date: 2026-12-04

``orders.order_type`` accepts ``balance_top_up`` (a transfer credited to the user's balance,
see tronrent.product.topup); ``orders.quantity`` is the number of packages a package order
bought (NULL for flash orders and top-ups).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_products"
down_revision: str | Sequence[str] | None = "0011_pool_ops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_TYPES = "'energy_flash', 'energy_rental', 'transaction_package'"
_NEW_TYPES = _OLD_TYPES + ", 'balance_top_up'"


def _order_types(types: str) -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("orders_order_type_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("orders_order_type_check"), sa.text(f"order_type IN ({types})")
        )


def upgrade() -> None:
    _order_types(_NEW_TYPES)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quantity", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(op.f("orders_quantity_check"), sa.text("quantity > 0"))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("orders_quantity_check"), type_="check")
        batch_op.drop_column("quantity")
    _order_types(_OLD_TYPES)
