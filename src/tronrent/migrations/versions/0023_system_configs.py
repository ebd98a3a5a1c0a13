"""Bots and system configs run by operators: every bot change audited (``bot_changes``).

Revision ID: 0023_system_configs
Revises: 0016_search
Create Date: 2026-12-04

``bot_changes``: who (``actor``, ``actor_id``) added, edited or removed which bot (``bot_id``,
no foreign key so a removed bot's history stays; ``username`` at the time), how (``action``:
``add`` | ``edit`` | ``remove``; ``before``/``after``: the changed fields as JSON, a token or
webhook secret only as ``"(changed)"``) and why (``reason``). ``system_configs`` and
``system_config_history`` exist since 0001 (seed 001); the keys are declared in code
(``tronrent.sysconfig.registry``), rows are written on the first change.

PostgreSQL: the application role (``DB_APP_ROLE``, see ``0003_app_role_grants``) gets SELECT,
INSERT on ``bot_changes`` (append-only, like the other history tables).
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0023_system_configs"
down_revision: str | Sequence[str] | None = "0019_agents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
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
            "action IN ('add', 'edit', 'remove')", name=op.f("bot_changes_action_check")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["admin_users.id"],
            name=op.f("bot_changes_actor_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("bot_changes_pkey")),
    )
    op.create_index("idx_bot_changes_bot_id", "bot_changes", ["bot_id", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'GRANT SELECT, INSERT ON bot_changes TO "{_app_role()}"')


def _app_role() -> str:
    """``DB_APP_ROLE``, validated, as migration 0003 created it."""
    grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
    role: str = grants.app_role()
    return role


def downgrade() -> None:
    op.drop_index("idx_bot_changes_bot_id", table_name="bot_changes")
    op.drop_table("bot_changes")
