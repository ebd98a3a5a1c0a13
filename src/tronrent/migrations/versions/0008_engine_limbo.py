"""No paid order in limbo: recipient activation transfers, and the fee quoted on the order.

Revision ID: 0008_engine_limbo
Revises: 0005
Create Date: 2026-12-04

``chain_transactions.purpose`` gains ``activate`` (a TRX transfer that creates the recipient's
account before its delegation), with a partial unique index allowing one live activation per
order (exactly once, like delegations and refunds). ``orders.activation_fee_sun``: what
activating the recipient costs (read from ``getchainparameters``), added to the quote when the
recipient had no account at create-order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_engine_limbo"
down_revision: str | Sequence[str] | None = "0006_pool_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "status IN ('signed', 'broadcast', 'confirmed')"
_OLD_PURPOSES = (
    "'delegate', 'undelegate', 'refund', 'refund_rest', 'transfer', 'freeze', 'unfreeze', "
    "'withdraw'"
)
_NEW_PURPOSES = (
    "'delegate', 'undelegate', 'refund', 'refund_rest', 'transfer', 'activate', 'freeze', "
    "'unfreeze', 'withdraw'"
)


def _purposes(purposes: str) -> None:
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("chain_transactions_purpose_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("chain_transactions_purpose_check"), sa.text(f"purpose IN ({purposes})")
        )


def upgrade() -> None:
    _purposes(_NEW_PURPOSES)
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_chain_transactions_live_activation",
            ["order_id"],
            unique=True,
            postgresql_where=sa.text(f"purpose = 'activate' AND {_LIVE}"),
            sqlite_where=sa.text(f"purpose = 'activate' AND {_LIVE}"),
        )
    # a plain ADD COLUMN: a batch copy of orders would break the views built on it (SQLite)
    op.add_column("orders", sa.Column("activation_fee_sun", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "activation_fee_sun")
    op.execute("DELETE FROM chain_transactions WHERE purpose = 'activate'")
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.drop_index("uq_chain_transactions_live_activation")
    _purposes(_OLD_PURPOSES)
