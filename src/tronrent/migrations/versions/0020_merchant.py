"""Merchant API: keys, request nonces, merchant orders, callbacks and their delivery log.

Revision ID: 0020_merchant
Revises: 0016_search
Create Date: 2026-12-04

``merchant_api_keys``: several per customer, the secret encrypted (HMAC verification needs
it), IP allowlist, callback URL, who created / revoked it and why. ``merchant_nonces``: nonces
seen in the replay window when no Redis is configured. ``merchant_orders``: the client order id
of an order, unique per customer. ``merchant_callbacks``: the callback outbox (one row per
order event, ``event_id`` unique). ``merchant_callback_attempts``: the delivery log.

PostgreSQL: the application role (``DB_APP_ROLE``, see ``0003_app_role_grants``) gets CRUD on
the keys, nonces and callbacks, SELECT, INSERT on merchant orders and the delivery log.
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

revision: str = "0020_merchant"
down_revision: str | Sequence[str] | None = "0016_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CRUD = "SELECT, INSERT, UPDATE, DELETE"
GRANTS = {
    "merchant_api_keys": CRUD,
    "merchant_nonces": CRUD,
    "merchant_orders": "SELECT, INSERT",
    "merchant_callbacks": CRUD,
    "merchant_callback_attempts": "SELECT, INSERT",
}
SEQUENCES = ("merchant_callbacks_id_seq", "merchant_callback_attempts_id_seq")


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "merchant_api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("ip_allowlist", JSON, nullable=False),
        sa.Column("callback_url", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_reason", sa.Text(), nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "status IN ('active', 'revoked')", name=op.f("merchant_api_keys_status_check")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("merchant_api_keys_user_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("merchant_api_keys_pkey")),
        sa.UniqueConstraint("key_id", name=op.f("merchant_api_keys_key_id_key")),
    )
    op.create_index("idx_merchant_api_keys_user_id", "merchant_api_keys", ["user_id"])
    op.create_table(
        "merchant_nonces",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name=op.f("merchant_nonces_pkey")),
    )
    op.create_index("idx_merchant_nonces_seen_at", "merchant_nonces", ["seen_at"])
    op.create_table(
        "merchant_orders",
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("callback_url", sa.String(length=500), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("merchant_orders_order_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("merchant_orders_user_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["merchant_api_keys.id"],
            name=op.f("merchant_orders_api_key_id_fkey"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("merchant_orders_pkey")),
        sa.UniqueConstraint("user_id", "client_order_id", name="uq_merchant_orders_client_id"),
    )
    op.create_index(
        "idx_merchant_orders_user_created", "merchant_orders", ["user_id", "created_at"]
    )
    op.create_table(
        "merchant_callbacks",
        sa.Column("id", BIGPK, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        _created_at(),
        sa.CheckConstraint("attempts >= 0", name=op.f("merchant_callbacks_attempts_check")),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("merchant_callbacks_status_check"),
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["merchant_api_keys.id"],
            name=op.f("merchant_callbacks_api_key_id_fkey"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("merchant_callbacks_pkey")),
        sa.UniqueConstraint("event_id", name=op.f("merchant_callbacks_event_id_key")),
    )
    op.create_index(
        "idx_merchant_callbacks_due", "merchant_callbacks", ["status", "next_attempt_at"]
    )
    op.create_index("idx_merchant_callbacks_order", "merchant_callbacks", ["order_id", "id"])
    op.create_table(
        "merchant_callback_attempts",
        sa.Column("id", BIGPK, autoincrement=True, nullable=False),
        sa.Column("callback_id", sa.BigInteger(), nullable=False),
        sa.Column("attempted_at", TS, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["merchant_callbacks.id"],
            name=op.f("merchant_callback_attempts_callback_id_fkey"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("merchant_callback_attempts_pkey")),
    )
    op.create_index(
        "idx_merchant_callback_attempts_cb", "merchant_callback_attempts", ["callback_id", "id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        role = _app_role()
        for table, privileges in GRANTS.items():
            op.execute(f'GRANT {privileges} ON {table} TO "{role}"')
        for sequence in SEQUENCES:
            op.execute(f'GRANT USAGE, SELECT ON SEQUENCE {sequence} TO "{role}"')


def _app_role() -> str:
    """``DB_APP_ROLE``, validated, as migration 0003 created it."""
    grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
    role: str = grants.app_role()
    return role


def downgrade() -> None:
    op.drop_index("idx_merchant_callback_attempts_cb", table_name="merchant_callback_attempts")
    op.drop_table("merchant_callback_attempts")
    op.drop_index("idx_merchant_callbacks_order", table_name="merchant_callbacks")
    op.drop_index("idx_merchant_callbacks_due", table_name="merchant_callbacks")
    op.drop_table("merchant_callbacks")
    op.drop_index("idx_merchant_orders_user_created", table_name="merchant_orders")
    op.drop_table("merchant_orders")
    op.drop_index("idx_merchant_nonces_seen_at", table_name="merchant_nonces")
    op.drop_table("merchant_nonces")
    op.drop_index("idx_merchant_api_keys_user_id", table_name="merchant_api_keys")
    op.drop_table("merchant_api_keys")
