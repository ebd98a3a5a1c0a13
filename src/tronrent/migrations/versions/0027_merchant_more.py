"""Merchant API: the history of key settings changes.

Revision ID: 0027_merchant_more
Revises: 0022_pool_keys
Create Date: 2026-12-04

``merchant_key_changes``: every change of a key's IP allowlist or callback URL (by its customer
in the bot or by an operator), who made it and why, the fields before and after.

PostgreSQL: the application role (``DB_APP_ROLE``) gets SELECT, INSERT on it.
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

revision: str = "0027_merchant_more"
down_revision: str | Sequence[str] | None = "0026_agent_bots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_key_changes",
        sa.Column("id", BIGPK, autoincrement=True, nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("before", JSON, nullable=False),
        sa.Column("after", JSON, nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["merchant_api_keys.id"],
            name=op.f("merchant_key_changes_api_key_id_fkey"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("merchant_key_changes_pkey")),
    )
    op.create_index(
        "idx_merchant_key_changes_key", "merchant_key_changes", ["api_key_id", "created_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
        role = grants.app_role()
        op.execute(f'GRANT SELECT, INSERT ON merchant_key_changes TO "{role}"')
        op.execute(f'GRANT USAGE, SELECT ON SEQUENCE merchant_key_changes_id_seq TO "{role}"')


def downgrade() -> None:
    op.drop_index("idx_merchant_key_changes_key", table_name="merchant_key_changes")
    op.drop_table("merchant_key_changes")
