"""Users found by a part of their username from an index (PostgreSQL trigrams).

Revision ID: 0035_users_username_trgm
Revises: 0034_balance_paid_notify
Create Date: 2026-12-05

The console's and the admin API's user search (``tronrent.user.admin.matching``) finds a
username by any part of it (``username ILIKE '%part%'``), OR'ed with exact matches on the
Telegram id, the TRON address and the referral code. A substring has no B-tree index, so
every search read the users newest first until it had a page: a scan of every user for a
rare name (60 ms at 100,000 users, growing with them). On PostgreSQL a GIN index of the
username's trigrams (``pg_trgm``, a trusted extension since PostgreSQL 13: the database's
owner may create it) serves the ``ILIKE`` of a part of 3 characters or more, and the planner
ORs it with the other three indexes. SQLite has no such index (a ``LIKE '%...%'`` there is a
scan, as before): nothing changes on it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035_users_username_trgm"
down_revision: str | Sequence[str] | None = "0034_balance_paid_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "idx_users_username_trgm",
            "users",
            ["username"],
            postgresql_using="gin",
            postgresql_ops={"username": "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("idx_users_username_trgm", table_name="users")
        # the extension stays: other objects of the database may use it
