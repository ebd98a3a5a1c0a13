"""Console lists: the indexes of their keyset pages (newest first over ``(created_at, id)``).

Revision ID: 0032_console_biz
Revises: 0031_auto_customer
Create Date: 2026-12-04

The console pages of users, agents and merchant keys read newest first, 50 at a time, after
the last row of the previous page; each of these indexes serves every page of one list:
``users``, ``agents``, ``agent_applications``, ``agent_earnings`` (all, and one agent's),
``merchant_api_keys`` and ``count_packages`` (the active ones: joined to their orders).

``user_status_changes``: every block / unblock of a customer, who (``actor``, ``actor_id``)
and why (``reason``), the status before and after (until now only logged). PostgreSQL: the
application role (``DB_APP_ROLE``) gets SELECT, INSERT on it (append-only, like the other
history tables).
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_console_biz"
down_revision: str | Sequence[str] | None = "0031_auto_customer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("idx_users_created_at", "users", ["created_at", "id"]),
    ("idx_agents_created_at", "agents", ["created_at", "id"]),
    ("idx_agent_applications_created_at", "agent_applications", ["created_at", "id"]),
    ("idx_agent_earnings_created_at", "agent_earnings", ["created_at", "id"]),
    ("idx_agent_earnings_agent_created", "agent_earnings", ["agent_id", "created_at", "id"]),
    ("idx_merchant_api_keys_created_at", "merchant_api_keys", ["created_at", "id"]),
    ("idx_count_packages_created_at", "count_packages", ["created_at", "order_id"]),
)


_STATUSES = "('active', 'inactive', 'banned')"


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "user_status_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("previous_status", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            f"previous_status IN {_STATUSES}",
            name=op.f("user_status_changes_previous_status_check"),
        ),
        sa.CheckConstraint(f"status IN {_STATUSES}", name=op.f("user_status_changes_status_check")),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["admin_users.id"],
            name=op.f("user_status_changes_actor_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("user_status_changes_user_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("user_status_changes_pkey")),
    )
    op.create_index(
        "idx_user_status_changes_user", "user_status_changes", ["user_id", "created_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
        op.execute(f'GRANT SELECT, INSERT ON user_status_changes TO "{grants.app_role()}"')


def downgrade() -> None:
    op.drop_index("idx_user_status_changes_user", table_name="user_status_changes")
    op.drop_table("user_status_changes")
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
