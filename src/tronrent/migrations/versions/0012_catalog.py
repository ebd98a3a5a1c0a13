"""The catalogue: per-package USDT prices, seeded default packages, deletable price rules and
an audit of package and template changes.

Revision ID: 0012_catalog
Revises: 0011_pool_ops
Create Date: 2026-12-04

``energy_packages.usdt_price_units``: the USDT price of one unit (NULL: not sold for USDT),
beside ``base_price_units`` in ``currency`` (TRX); quantity bounds checked (``min_order_amount``
>= 1, max >= min). ``price_configs.deleted_at``: a rule an operator deleted stays (its
``price_history`` refers to it), hidden. ``catalog_changes``: who changed which package or
template how and why. Four default packages (docs/pricing.md) with fixed ids.

PostgreSQL: the application role gets SELECT, INSERT on ``catalog_changes`` (append-only).
"""

import importlib
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0012_catalog"
down_revision: str | Sequence[str] | None = "0011_pool_ops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NS = uuid.UUID("6f1c2a52-3c1e-4b8e-9a57-0d6c1a7e2b10")
TRX = 1_000_000
USDT = 1_000_000

#: name, energy, hours, TRX price (sun), USDT price (units), max quantity, sort order, tags
DEFAULT_PACKAGES = (
    ("65K energy, 1 hour", 65_000, 1, 2 * TRX, 600_000, 100, 10, ["usdt-transfer", "popular"]),
    ("131K energy, 1 hour", 131_000, 1, 4 * TRX, 1_200_000, 100, 20, ["new-recipient"]),
    ("65K energy, 1 day", 65_000, 24, 5 * TRX, 1_500_000, 50, 30, ["daily"]),
    ("65K energy, 3 days", 65_000, 72, 13_500_000, 4 * USDT, 20, 40, ["multi-day"]),
)
DESCRIPTIONS = (
    "One USDT transfer to an address that holds USDT (about 64,285 energy), within an hour.",
    "One USDT transfer to an address that holds no USDT yet (about 130,285 energy).",
    "65,000 energy for 24 hours: one transfer now, the energy recovers over the day.",
    "65,000 energy for 72 hours: about one transfer a day for three days.",
)


def package_id(name: str) -> uuid.UUID:
    """The fixed id of a default package (so the downgrade removes exactly these)."""
    return uuid.uuid5(_NS, name)


def upgrade() -> None:
    with op.batch_alter_table("energy_packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("usdt_price_units", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            op.f("energy_packages_usdt_price_check"),
            "usdt_price_units IS NULL OR usdt_price_units >= 0",
        )
        batch_op.create_check_constraint(
            op.f("energy_packages_min_order_amount_check"),
            "min_order_amount IS NULL OR min_order_amount >= 1",
        )
        batch_op.create_check_constraint(
            op.f("energy_packages_order_amount_bounds_check"),
            "max_order_amount IS NULL OR min_order_amount IS NULL"
            " OR max_order_amount >= min_order_amount",
        )
    # a plain ADD COLUMN (no batch copy of price_configs on SQLite)
    op.add_column(
        "price_configs", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "catalog_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before", JSON, nullable=False),
        sa.Column("after", JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "entity_type IN ('package', 'template')",
            name=op.f("catalog_changes_entity_type_check"),
        ),
        sa.CheckConstraint(
            "action IN ('create', 'update', 'delete', 'apply')",
            name=op.f("catalog_changes_action_check"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["admin_users.id"],
            name=op.f("catalog_changes_actor_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("catalog_changes_pkey")),
    )
    op.create_index(
        "idx_catalog_changes_entity",
        "catalog_changes",
        ["entity_type", "entity_id", "created_at"],
    )
    packages = sa.table(
        "energy_packages",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("package_type", sa.String()),
        sa.column("energy_amount", sa.BigInteger()),
        sa.column("duration_hours", sa.Integer()),
        sa.column("base_price_units", sa.BigInteger()),
        sa.column("usdt_price_units", sa.BigInteger()),
        sa.column("currency", sa.String()),
        sa.column("min_order_amount", sa.BigInteger()),
        sa.column("max_order_amount", sa.BigInteger()),
        sa.column("is_active", sa.Boolean()),
        sa.column("sort_order", sa.Integer()),
        sa.column("tags", JSON),
    )
    # a package a downgrade kept (an order or a rule refers to it) is not inserted again
    kept = set(
        op.get_bind()
        .execute(
            sa.select(packages.c.id).where(
                packages.c.id.in_([package_id(p[0]) for p in DEFAULT_PACKAGES])
            )
        )
        .scalars()
    )
    rows = [
        {
            "id": package_id(name),
            "name": name,
            "description": description,
            "package_type": "energy",
            "energy_amount": energy,
            "duration_hours": hours,
            "base_price_units": trx_sun,
            "usdt_price_units": usdt_units,
            "currency": "TRX",
            "min_order_amount": 1,
            "max_order_amount": max_quantity,
            "is_active": True,
            "sort_order": sort_order,
            "tags": tags,
        }
        for (name, energy, hours, trx_sun, usdt_units, max_quantity, sort_order, tags), (
            description
        ) in zip(DEFAULT_PACKAGES, DESCRIPTIONS, strict=True)
    ]
    op.bulk_insert(packages, [r for r in rows if r["id"] not in kept])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'GRANT SELECT, INSERT ON catalog_changes TO "{_app_role()}"')


def _app_role() -> str:
    """``DB_APP_ROLE``, validated, as migration 0003 created it."""
    grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
    role: str = grants.app_role()
    return role


def downgrade() -> None:
    # the default packages go unless an order or a price rule refers to them (a rule's
    # price_history would block the cascade)
    packages = sa.table("energy_packages", sa.column("id", sa.Uuid()))
    ids = [package_id(p[0]) for p in DEFAULT_PACKAGES]
    delete = packages.delete().where(packages.c.id.in_(ids))
    for name in ("orders", "price_configs"):
        referring = sa.table(name, sa.column("package_id", sa.Uuid()))
        used = sa.select(referring.c.package_id).where(referring.c.package_id.is_not(None))
        delete = delete.where(packages.c.id.not_in(used))
    op.execute(delete)
    op.drop_index("idx_catalog_changes_entity", table_name="catalog_changes")
    op.drop_table("catalog_changes")
    op.drop_column("price_configs", "deleted_at")
    with op.batch_alter_table("energy_packages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("energy_packages_order_amount_bounds_check"), type_="check")
        batch_op.drop_constraint(op.f("energy_packages_min_order_amount_check"), type_="check")
        batch_op.drop_constraint(op.f("energy_packages_usdt_price_check"), type_="check")
        batch_op.drop_column("usdt_price_units")
