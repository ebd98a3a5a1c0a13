"""Agents: withdrawals paid on chain, their ledger causes and payout transfers.

Revision ID: 0019_agents
Revises: 0016_search
Create Date: 2026-12-04

``agent_withdrawals`` holds an agent's payout requests (see tronrent.agent.withdrawal);
``balance_ledger.cause_type`` accepts ``withdrawal_return`` (a rejected withdrawal's amount back
on the balance); ``chain_transactions`` gets purpose ``payout`` and ``withdrawal_id``, with a
partial unique index allowing at most ONE live payout transfer per withdrawal (as refunds have
per payment). ``agent_changes`` records every operator decision about agents with who and why.
PostgreSQL: the application role gets SELECT, INSERT, UPDATE on ``agent_withdrawals`` and
SELECT, INSERT on ``agent_changes``.
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019_agents"
down_revision: str | Sequence[str] | None = "0018_count_packages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "status IN ('signed', 'broadcast', 'confirmed')"
_OLD_PURPOSES = (
    "'delegate', 'undelegate', 'refund', 'refund_rest', 'transfer', 'activate', 'freeze', "
    "'unfreeze', 'withdraw'"
)
_NEW_PURPOSES = _OLD_PURPOSES + ", 'payout'"
_OLD_CAUSES = (
    "'top_up', 'order_payment', 'order_refund', 'commission', 'withdrawal', 'adjustment', "
    "'idle_fee'"
)
_NEW_CAUSES = _OLD_CAUSES + ", 'withdrawal_return'"


def _causes(causes: str) -> None:
    with op.batch_alter_table("balance_ledger", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("balance_ledger_cause_type_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("balance_ledger_cause_type_check"), sa.text(f"cause_type IN ({causes})")
        )


def _purposes(purposes: str) -> None:
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("chain_transactions_purpose_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("chain_transactions_purpose_check"), sa.text(f"purpose IN ({purposes})")
        )


def upgrade() -> None:
    op.create_table(
        "agent_withdrawals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("amount_units", sa.BigInteger(), nullable=False),
        sa.Column("fee_units", sa.BigInteger(), nullable=False),
        sa.Column("payout_units", sa.BigInteger(), nullable=False),
        sa.Column("to_address", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_notes", sa.Text(), nullable=True),
        sa.Column("txid", sa.String(length=64), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("amount_units > 0", name=op.f("agent_withdrawals_amount_check")),
        sa.CheckConstraint("fee_units >= 0", name=op.f("agent_withdrawals_fee_check")),
        sa.CheckConstraint("payout_units > 0", name=op.f("agent_withdrawals_payout_check")),
        sa.CheckConstraint(
            "payout_units + fee_units = amount_units",
            name=op.f("agent_withdrawals_payout_sum_check"),
        ),
        sa.CheckConstraint(
            "status IN ('pending_review', 'approved', 'paid', 'rejected')",
            name=op.f("agent_withdrawals_status_check"),
        ),
        sa.CheckConstraint(
            "currency IN ('TRX', 'USDT')", name=op.f("agent_withdrawals_currency_check")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("agent_withdrawals_agent_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("agent_withdrawals_user_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["admin_users.id"],
            name=op.f("agent_withdrawals_reviewed_by_fkey"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("agent_withdrawals_pkey")),
    )
    op.create_index(
        "idx_agent_withdrawals_agent_id", "agent_withdrawals", ["agent_id", "created_at"]
    )
    op.create_index("idx_agent_withdrawals_status", "agent_withdrawals", ["status"])
    op.create_table(
        "agent_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "action IN ('approve_application', 'reject_application', 'edit_agent', "
            "'approve_withdrawal', 'reject_withdrawal')",
            name=op.f("agent_changes_action_check"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["admin_users.id"],
            name=op.f("agent_changes_actor_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("agent_changes_pkey")),
    )
    op.create_index("idx_agent_changes_subject", "agent_changes", ["subject", "created_at"])
    _causes(_NEW_CAUSES)
    _purposes(_NEW_PURPOSES)
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawal_id", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            op.f("chain_transactions_withdrawal_id_fkey"),
            "agent_withdrawals",
            ["withdrawal_id"],
            ["id"],
        )
        batch_op.create_index(
            "uq_chain_transactions_live_payout",
            ["withdrawal_id"],
            unique=True,
            postgresql_where=sa.text(f"withdrawal_id IS NOT NULL AND {_LIVE}"),
            sqlite_where=sa.text(f"withdrawal_id IS NOT NULL AND {_LIVE}"),
        )
    if op.get_bind().dialect.name == "postgresql":
        role = _app_role()
        op.execute(f'GRANT SELECT, INSERT, UPDATE ON agent_withdrawals TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON SEQUENCE agent_withdrawals_id_seq TO "{role}"')
        op.execute(f'GRANT SELECT, INSERT ON agent_changes TO "{role}"')


def _app_role() -> str:
    """``DB_APP_ROLE``, validated, as migration 0003 created it."""
    grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
    role: str = grants.app_role()
    return role


def downgrade() -> None:
    op.execute("DELETE FROM chain_transactions WHERE purpose = 'payout'")
    op.execute("DELETE FROM balance_ledger WHERE cause_type = 'withdrawal_return'")
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.drop_index("uq_chain_transactions_live_payout")
        batch_op.drop_constraint(op.f("chain_transactions_withdrawal_id_fkey"), type_="foreignkey")
        batch_op.drop_column("withdrawal_id")
    _purposes(_OLD_PURPOSES)
    _causes(_OLD_CAUSES)
    op.drop_index("idx_agent_changes_subject", table_name="agent_changes")
    op.drop_table("agent_changes")
    op.drop_index("idx_agent_withdrawals_status", table_name="agent_withdrawals")
    op.drop_index("idx_agent_withdrawals_agent_id", table_name="agent_withdrawals")
    op.drop_table("agent_withdrawals")
