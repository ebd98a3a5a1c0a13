"""Seed 000's two views and initial data (energy_flash price config, energy resource config).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

The views keep the seed's column names except the two money columns, which carry integer base
units and say so (``detected_amount_units``, ``paid_amount_units``). ``NOW()`` and boolean
literals differ between the databases, so the SQL is generated per dialect.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

ENERGY_FLASH_CONFIG = {
    "single_price": 1.5,
    "max_transactions": 10,
    "expiry_hours": 1,
    "min_amount": 1.0,
    "description": "能量闪租服务 - 1.5 TRX/笔，最多10笔，1小时时效",
}

# PRODUCT.md: a USDT transfer needs ~64,285 energy (recipient holds USDT); the seed's 15,000 is
# out of date. energy_margin_bps: the 2 % margin for TotalEnergyLimit/Weight drift.
ENERGY_RESOURCE_CONFIG = {
    "usdt_standard_energy": 65000,
    "trx_transfer_energy": 268,
    "trc20_transfer_energy": 13000,
    "contract_call_energy": 10000,
    "energy_margin_bps": 200,
    "description": "标准能量消耗配置",
}


PAYMENT_MONITORING_STATUS_SQL = """
CREATE VIEW payment_monitoring_status AS
SELECT
    pml.order_id,
    pml.payment_address,
    pml.status AS monitoring_status,
    pml.monitoring_started_at,
    pml.monitoring_stopped_at,
    pml.detected_amount_units,
    pml.detected_from_address,
    o.status AS order_status,
    o.paid_amount_units,
    o.transaction_count,
    o.expires_at,
    {is_expired} AS is_expired
FROM payment_monitoring_logs pml
LEFT JOIN orders o ON pml.order_id = o.id
WHERE pml.id IN (
    SELECT MAX(id)
    FROM payment_monitoring_logs
    GROUP BY order_id
)
"""
IS_EXPIRED_SQL = {
    "postgresql": "CASE WHEN o.expires_at < NOW() THEN true ELSE false END",
    # SQLite: stored as naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff'; compare in the same format
    "sqlite": "CASE WHEN o.expires_at < strftime('%Y-%m-%d %H:%M:%f', 'now') THEN 1 ELSE 0 END",
}


ENERGY_DELEGATION_STATS_SQL = """
CREATE VIEW energy_delegation_stats AS
SELECT
    ed.order_id,
    COUNT(*) AS total_delegations,
    COUNT(CASE WHEN ed.status = 'success' THEN 1 END) AS successful_delegations,
    COUNT(CASE WHEN ed.status = 'failed' THEN 1 END) AS failed_delegations,
    SUM(CASE WHEN ed.status = 'success' THEN ed.energy_amount ELSE 0 END)
        AS total_energy_delegated,
    MIN(ed.delegated_at) AS first_delegation_at,
    MAX(ed.delegated_at) AS last_delegation_at
FROM energy_delegations ed
GROUP BY ed.order_id
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(PAYMENT_MONITORING_STATUS_SQL.format(is_expired=IS_EXPIRED_SQL[dialect]))
    op.execute(ENERGY_DELEGATION_STATS_SQL)

    price_configs = sa.table(
        "price_configs",
        sa.column("id", sa.Uuid()),
        sa.column("mode_type", sa.String()),
        sa.column("config_name", sa.String()),
        sa.column("config", _JSON),
        sa.column("currency", sa.String()),
        sa.column("is_active", sa.Boolean()),
    )
    op.bulk_insert(
        price_configs,
        [
            {
                "id": uuid.uuid4(),
                "mode_type": "energy_flash",
                "config_name": "Energy flash",
                "config": ENERGY_FLASH_CONFIG,
                "currency": "TRX",
                "is_active": True,
            }
        ],
    )
    resource_configs = sa.table(
        "resource_consumption_configs",
        sa.column("resource_type", sa.String()),
        sa.column("config", _JSON),
        sa.column("is_active", sa.Boolean()),
    )
    op.bulk_insert(
        resource_configs,
        [{"resource_type": "energy", "config": ENERGY_RESOURCE_CONFIG, "is_active": True}],
    )


def downgrade() -> None:
    op.execute("DELETE FROM resource_consumption_configs WHERE resource_type = 'energy'")
    op.execute("DELETE FROM price_configs WHERE mode_type = 'energy_flash'")
    op.execute("DROP VIEW IF EXISTS energy_delegation_stats")
    op.execute("DROP VIEW IF EXISTS payment_monitoring_status")
