"""Dead letters can be retried by an operator: who resolved a failure, and how.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

``POST /api/admin/job-failures/{id}/retry`` re-enqueues the job once: the conditional
``UPDATE ... WHERE resolved_at IS NULL`` decides which request enqueues, and the row keeps
``resolution = 'retried'`` and the admin who did it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_failures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            op.f("job_failures_resolved_by_fkey"),
            "admin_users",
            ["resolved_by"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("job_failures", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("job_failures_resolved_by_fkey"), type_="foreignkey")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("resolution")
