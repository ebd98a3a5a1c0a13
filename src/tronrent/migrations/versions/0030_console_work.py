"""Console work pages: indexes for the dead letter and the operator alerts, newest first.

Revision ID: 0030_console_work
Revises: 0029_console_cover
Create Date: 2026-12-04

- ``idx_job_failures_failed_at`` ``(failed_at, id)``: the console's dead-letter pages (keyset,
  newest first).
- ``idx_notification_outbox_operator`` ``(created_at, id) WHERE user_id IS NULL AND chat_id IS
  NULL``: the operator alerts sent, newest first - a partial index, as they are a few rows
  among the customers' notifications (both databases support partial indexes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_console_work"
down_revision: str | Sequence[str] | None = "0029_console_cover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPERATOR = "user_id IS NULL AND chat_id IS NULL"


def upgrade() -> None:
    op.create_index("idx_job_failures_failed_at", "job_failures", ["failed_at", "id"])
    op.create_index(
        "idx_notification_outbox_operator",
        "notification_outbox",
        ["created_at", "id"],
        postgresql_where=sa.text(_OPERATOR),
        sqlite_where=sa.text(_OPERATOR),
    )


def downgrade() -> None:
    op.drop_index("idx_notification_outbox_operator", table_name="notification_outbox")
    op.drop_index("idx_job_failures_failed_at", table_name="job_failures")
