"""Staking through the platform and delegate-only pool keys.

Revision ID: 0022_pool_keys
Revises: 0016_search
Create Date: 2026-12-04

``energy_pools.signer_address`` / ``permission_id``: a delegate-only pool signs with a hot key
(``signer_address``) through the account's active permission ``permission_id`` (2+), which allows
DelegateResource and UnDelegateResource only; both NULL for a pool signing with its owner key.
``pool_changes.action`` gains ``stake``, ``unstake``, ``withdraw``, ``cancel_unstake``;
``chain_transactions.purpose`` gains ``cancel_unfreeze``, and a partial unique index allows at
most one staking transaction of a pool in flight (``signed`` or ``broadcast``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_pool_keys"
down_revision: str | Sequence[str] | None = "0023_system_configs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_PURPOSES = (
    "'delegate', 'undelegate', 'refund', 'refund_rest', 'transfer', 'activate', 'freeze', "
    "'unfreeze', 'withdraw', 'payout'"
)
_NEW_PURPOSES = _OLD_PURPOSES + ", 'cancel_unfreeze'"
_OLD_ACTIONS = "'edit', 'remove'"
_NEW_ACTIONS = _OLD_ACTIONS + ", 'stake', 'unstake', 'withdraw', 'cancel_unstake'"
_STAKING = (
    "pool_id IS NOT NULL AND purpose IN ('freeze', 'unfreeze', 'withdraw', 'cancel_unfreeze')"
    " AND status IN ('signed', 'broadcast')"
)
_DELEGATE_ONLY = (
    "(permission_id IS NULL AND signer_address IS NULL)"
    " OR (permission_id >= 2 AND signer_address IS NOT NULL)"
)


def _checks(purposes: str, actions: str) -> None:
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("chain_transactions_purpose_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("chain_transactions_purpose_check"), sa.text(f"purpose IN ({purposes})")
        )
    with op.batch_alter_table("pool_changes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("pool_changes_action_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("pool_changes_action_check"), sa.text(f"action IN ({actions})")
        )


def upgrade() -> None:
    with op.batch_alter_table("energy_pools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signer_address", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("permission_id", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f("energy_pools_delegate_only_check"), sa.text(_DELEGATE_ONLY)
        )
    _checks(_NEW_PURPOSES, _NEW_ACTIONS)
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_chain_transactions_staking_in_flight",
            ["pool_id"],
            unique=True,
            postgresql_where=sa.text(_STAKING),
            sqlite_where=sa.text(_STAKING),
        )


def downgrade() -> None:
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.drop_index("uq_chain_transactions_staking_in_flight")
    op.execute("DELETE FROM chain_transactions WHERE purpose = 'cancel_unfreeze'")
    op.execute(
        "DELETE FROM pool_changes WHERE action IN ('stake', 'unstake', 'withdraw', "
        "'cancel_unstake')"
    )
    _checks(_OLD_PURPOSES, _OLD_ACTIONS)
    with op.batch_alter_table("energy_pools", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("energy_pools_delegate_only_check"), type_="check")
        batch_op.drop_column("permission_id")
        batch_op.drop_column("signer_address")
