"""Refunds keyed per (payment, purpose): a second refund transfer for a failed order's rest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

An order that fails after its excess was already refunded owes the customer the rest of the
payment. Purpose ``refund_rest`` carries that second transfer; the partial unique index on live
refunds becomes ``(payment_id, purpose)`` over both refund purposes, so each of the two
transfers still exists at most once per payment (and the code never lets their sum exceed what
was paid).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "status IN ('signed', 'broadcast', 'confirmed')"
_OLD_PURPOSES = "'delegate', 'undelegate', 'refund', 'transfer', 'freeze', 'unfreeze', 'withdraw'"
_NEW_PURPOSES = (
    "'delegate', 'undelegate', 'refund', 'refund_rest', 'transfer', 'freeze', 'unfreeze', "
    "'withdraw'"
)


def _swap(purposes: str, index_columns: list[str], index_where: str) -> None:
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.drop_index("uq_chain_transactions_live_refund")
        batch_op.drop_constraint(op.f("chain_transactions_purpose_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("chain_transactions_purpose_check"), sa.text(f"purpose IN ({purposes})")
        )
        batch_op.create_index(
            "uq_chain_transactions_live_refund",
            index_columns,
            unique=True,
            postgresql_where=sa.text(index_where),
            sqlite_where=sa.text(index_where),
        )


def upgrade() -> None:
    _swap(
        _NEW_PURPOSES,
        ["payment_id", "purpose"],
        f"payment_id IS NOT NULL AND purpose IN ('refund', 'refund_rest') AND {_LIVE}",
    )


def downgrade() -> None:
    op.execute("DELETE FROM chain_transactions WHERE purpose = 'refund_rest'")
    _swap(_OLD_PURPOSES, ["payment_id"], f"purpose = 'refund' AND {_LIVE}")
