"""``job_failures``: dead letters - jobs that exhausted their retries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, BigIntPK, PortableJSON, UTCDateTime, UUIDType
from tronrent.kit.time import utcnow


class JobFailure(Base):
    __tablename__ = "job_failures"
    __table_args__ = (
        Index("idx_job_failures_job_name", "job_name", "failed_at"),
        Index("idx_job_failures_resolved_at", "resolved_at"),  # retention (0028)
        Index("idx_job_failures_failed_at", "failed_at", "id"),  # console pages (0030)
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    job_name: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any] | list[Any] | None] = mapped_column(PortableJSON)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: how it was resolved (``retried``: re-enqueued by an operator) and by whom
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
