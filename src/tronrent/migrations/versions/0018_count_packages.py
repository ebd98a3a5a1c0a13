"""Transaction-count packages (笔数套餐): their state, their uses, the default catalogue.

Revision ID: 0018_count_packages
Revises: 0016_search
Create Date: 2026-12-04

``count_packages``: one row per ``transaction_package`` order (counts bought and used, the
energy of one transfer, pause). ``count_package_uses``: one row per USDT transfer the scanner
saw from a package's address, unique on its tx hash (a use is counted once). Six default count
packages (10/20/50/100/200/500 transfers, TRX and USDT prices) with fixed ids.

``count_package_changes``: operators' manual adjustments (who, why, before, after).

PostgreSQL: the application role gets SELECT, INSERT, UPDATE on the two state tables and
SELECT, INSERT on the changes (append-only), with their id sequences.
"""

import importlib
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0018_count_packages"
down_revision: str | Sequence[str] | None = "0020_merchant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NS = uuid.UUID("0b9d7d0e-6a51-4c3f-8f0e-5b2f6c1d9a18")
TRX = 1_000_000
#: transfers, TRX price (sun), USDT price (units), sort order: about 2.8 TRX / 0.85 USDT a
#: transfer, cheaper per transfer in larger packs
DEFAULT_COUNT_PACKAGES = (
    (10, 28 * TRX, 8_500_000, 110),
    (20, 54 * TRX, 16_500_000, 120),
    (50, 130 * TRX, 40_000_000, 130),
    (100, 255 * TRX, 78_000_000, 140),
    (200, 500 * TRX, 152_000_000, 150),
    (500, 1_225 * TRX, 372_000_000, 160),
)
#: one transfer's energy; the package lives this long at most (30 days)
ENERGY_PER_COUNT = 65_000
LIFETIME_HOURS = 720


def count_package_id(transfers: int) -> uuid.UUID:
    """The fixed id of a default count package."""
    return uuid.uuid5(_NS, f"count-{transfers}")


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "count_packages",
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=50), nullable=False),
        sa.Column("total_counts", sa.Integer(), nullable=False),
        sa.Column("used_counts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("energy_per_count", sa.BigInteger(), nullable=False),
        sa.Column("new_holder_counts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_use_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("total_counts > 0", name=op.f("count_packages_total_counts_check")),
        sa.CheckConstraint(
            "used_counts >= 0 AND used_counts <= total_counts",
            name=op.f("count_packages_used_counts_check"),
        ),
        sa.CheckConstraint(
            "energy_per_count > 0", name=op.f("count_packages_energy_per_count_check")
        ),
        sa.CheckConstraint(
            "new_holder_counts IN (1, 2)", name=op.f("count_packages_new_holder_counts_check")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("count_packages_order_id_fkey")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("count_packages_pkey")),
    )
    op.create_index("idx_count_packages_address", "count_packages", ["address"])
    op.create_table(
        "count_package_uses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("tx_hash", sa.String(length=100), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("to_address", sa.String(length=50), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("energy_used", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("energy_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("energy_fee_sun", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("counts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="seen", nullable=False),
        sa.Column("undelegate_tx_hash", sa.String(length=100), nullable=True),
        sa.Column("top_up_tx_hash", sa.String(length=100), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("counts >= 0", name=op.f("count_package_uses_counts_check")),
        sa.CheckConstraint(
            "status IN ('seen', 'topping_up', 'topped_up', 'last', 'not_counted')",
            name=op.f("count_package_uses_status_check"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("count_package_uses_order_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("count_package_uses_pkey")),
        sa.UniqueConstraint("tx_hash", name=op.f("count_package_uses_tx_hash_key")),
    )
    op.create_index("idx_count_package_uses_order_id", "count_package_uses", ["order_id"])
    op.create_index("idx_count_package_uses_status", "count_package_uses", ["status"])
    op.create_table(
        "count_package_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("total_before", sa.Integer(), nullable=False),
        sa.Column("total_after", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("count_package_changes_order_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["admin_users.id"],
            name=op.f("count_package_changes_actor_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("count_package_changes_pkey")),
    )
    op.create_index(
        "idx_count_package_changes_order_id", "count_package_changes", ["order_id", "created_at"]
    )
    packages = sa.table(
        "energy_packages",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("package_type", sa.String()),
        sa.column("energy_amount", sa.BigInteger()),
        sa.column("duration_hours", sa.Integer()),
        sa.column("transaction_count", sa.Integer()),
        sa.column("base_price_units", sa.BigInteger()),
        sa.column("usdt_price_units", sa.BigInteger()),
        sa.column("currency", sa.String()),
        sa.column("min_order_amount", sa.BigInteger()),
        sa.column("max_order_amount", sa.BigInteger()),
        sa.column("is_active", sa.Boolean()),
        sa.column("sort_order", sa.Integer()),
        sa.column("tags", JSON),
    )
    ids = [count_package_id(p[0]) for p in DEFAULT_COUNT_PACKAGES]
    kept = set(
        op.get_bind().execute(sa.select(packages.c.id).where(packages.c.id.in_(ids))).scalars()
    )
    rows = [
        {
            "id": count_package_id(n),
            "name": f"{n} USDT transfers",
            "description": f"Energy for {n} USDT transfers, topped up after each one.",
            "package_type": "transaction_count",
            "energy_amount": ENERGY_PER_COUNT,
            "duration_hours": LIFETIME_HOURS,
            "transaction_count": n,
            "base_price_units": trx_sun,
            "usdt_price_units": usdt_units,
            "currency": "TRX",
            "min_order_amount": 1,
            "max_order_amount": 1,
            "is_active": True,
            "sort_order": sort_order,
            "tags": ["count"],
        }
        for n, trx_sun, usdt_units, sort_order in DEFAULT_COUNT_PACKAGES
    ]
    op.bulk_insert(packages, [r for r in rows if r["id"] not in kept])
    if op.get_bind().dialect.name == "postgresql":
        role = _app_role()
        for table in ("count_packages", "count_package_uses"):
            op.execute(f'GRANT SELECT, INSERT, UPDATE ON {table} TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON SEQUENCE count_package_uses_id_seq TO "{role}"')
        # append-only, like the other history tables
        op.execute(f'GRANT SELECT, INSERT ON count_package_changes TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON SEQUENCE count_package_changes_id_seq TO "{role}"')


def _app_role() -> str:
    """``DB_APP_ROLE``, validated, as migration 0003 created it."""
    grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
    role: str = grants.app_role()
    return role


def downgrade() -> None:
    packages = sa.table("energy_packages", sa.column("id", sa.Uuid()))
    ids = [count_package_id(p[0]) for p in DEFAULT_COUNT_PACKAGES]
    delete = packages.delete().where(packages.c.id.in_(ids))
    for name in ("orders", "price_configs"):
        referring = sa.table(name, sa.column("package_id", sa.Uuid()))
        used = sa.select(referring.c.package_id).where(referring.c.package_id.is_not(None))
        delete = delete.where(packages.c.id.not_in(used))
    op.execute(delete)
    op.drop_index("idx_count_package_changes_order_id", table_name="count_package_changes")
    op.drop_table("count_package_changes")
    op.drop_index("idx_count_package_uses_status", table_name="count_package_uses")
    op.drop_index("idx_count_package_uses_order_id", table_name="count_package_uses")
    op.drop_table("count_package_uses")
    op.drop_index("idx_count_packages_address", table_name="count_packages")
    op.drop_table("count_packages")
