"""Auto top-up ("keep energy on my address"): count-package top-ups billed to the balance.

Revision ID: 0025_auto_topup
Revises: 0022_pool_keys
Create Date: 2026-12-04

``auto_top_ups``: one row per ``auto_top_up`` order (threshold, the energy held, the price of
one transfer's worth, what was drawn since the last top-up, why it stopped).
``orders.order_type`` accepts ``auto_top_up``; ``balance_ledger.cause_type`` accepts
``auto_top_up`` (cause id: the customer's transfer that triggered the top-up).

PostgreSQL: the application role gets SELECT, INSERT, UPDATE on ``auto_top_ups``.
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_auto_topup"
down_revision: str | Sequence[str] | None = "0024_count_life"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_TYPES = "'energy_flash', 'energy_rental', 'transaction_package', 'balance_top_up'"
_NEW_TYPES = _OLD_TYPES + ", 'auto_top_up'"
_OLD_CAUSES = (
    "'top_up', 'order_payment', 'order_refund', 'commission', 'withdrawal', 'adjustment', "
    "'idle_fee', 'withdrawal_return'"
)
_NEW_CAUSES = _OLD_CAUSES + ", 'auto_top_up'"


def _checks(types: str, causes: str) -> None:
    products = importlib.import_module("tronrent.migrations.versions.0013_products")
    with products._orders_rebuilt():
        products._order_types(types)
    with op.batch_alter_table("balance_ledger", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("balance_ledger_cause_type_check"), type_="check")
        batch_op.create_check_constraint(
            op.f("balance_ledger_cause_type_check"), sa.text(f"cause_type IN ({causes})")
        )


def upgrade() -> None:
    _checks(_NEW_TYPES, _NEW_CAUSES)
    op.create_table(
        "auto_top_ups",
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=50), nullable=False),
        sa.Column("threshold_energy", sa.BigInteger(), nullable=False),
        sa.Column("held_energy", sa.BigInteger(), nullable=False),
        sa.Column("energy_per_transfer", sa.BigInteger(), nullable=False),
        sa.Column("price_units", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("drawn_energy", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("top_ups", sa.Integer(), server_default="0", nullable=False),
        sa.Column("billed_units", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("stopped_reason", sa.String(length=20), nullable=True),
        sa.Column("stop_note", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "threshold_energy > 0", name=op.f("auto_top_ups_threshold_energy_check")
        ),
        sa.CheckConstraint(
            "held_energy >= threshold_energy", name=op.f("auto_top_ups_held_energy_check")
        ),
        sa.CheckConstraint(
            "energy_per_transfer > 0", name=op.f("auto_top_ups_energy_per_transfer_check")
        ),
        sa.CheckConstraint("price_units > 0", name=op.f("auto_top_ups_price_units_check")),
        sa.CheckConstraint("drawn_energy >= 0", name=op.f("auto_top_ups_drawn_energy_check")),
        sa.CheckConstraint("top_ups >= 0", name=op.f("auto_top_ups_top_ups_check")),
        sa.CheckConstraint("billed_units >= 0", name=op.f("auto_top_ups_billed_units_check")),
        sa.CheckConstraint("currency IN ('TRX', 'USDT')", name=op.f("auto_top_ups_currency_check")),
        sa.CheckConstraint(
            "stopped_reason IN ('balance', 'operator')",
            name=op.f("auto_top_ups_stopped_reason_check"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("auto_top_ups_order_id_fkey")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("auto_top_ups_user_id_fkey")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("auto_top_ups_pkey")),
    )
    op.create_index("idx_auto_top_ups_address", "auto_top_ups", ["address"])
    op.create_index("idx_auto_top_ups_user_id", "auto_top_ups", ["user_id"])
    if op.get_bind().dialect.name == "postgresql":
        grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
        op.execute(f'GRANT SELECT, INSERT, UPDATE ON auto_top_ups TO "{grants.app_role()}"')


def downgrade() -> None:
    orders = op.get_bind().execute(
        sa.text("SELECT count(*) FROM orders WHERE order_type = 'auto_top_up'")
    )
    if orders.scalar_one():
        raise RuntimeError("auto top-up orders exist: downgrading would orphan their history")
    op.drop_index("idx_auto_top_ups_user_id", table_name="auto_top_ups")
    op.drop_index("idx_auto_top_ups_address", table_name="auto_top_ups")
    op.drop_table("auto_top_ups")
    op.execute("DELETE FROM balance_ledger WHERE cause_type = 'auto_top_up'")
    _checks(_OLD_TYPES, _OLD_CAUSES)
