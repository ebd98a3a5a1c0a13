"""``agent_applications``: requests to become an agent, reviewed by admins (seed 001)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    PortableJSON,
    StrEnumType,
    TimestampMixin,
    UTCDateTime,
    UUIDType,
    enum_check,
)


class ApplicationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AgentApplication(TimestampMixin, Base):
    __tablename__ = "agent_applications"
    __table_args__ = (
        CheckConstraint(enum_check("status", ApplicationStatus), name="status"),
        CheckConstraint("expected_volume_sun >= 0", name="expected_volume"),
        Index("idx_agent_applications_status", "status"),
        Index("idx_agent_applications_created_at", "created_at", "id"),  # console (0031)
        # at most one application under review per user
        Index(
            "uq_agent_applications_pending_user",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id"))
    application_type: Mapped[str] = mapped_column(
        String(20), default="agent", server_default="agent"
    )
    business_info: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    contact_info: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    experience: Mapped[str | None] = mapped_column(Text)
    expected_volume_sun: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[ApplicationStatus] = mapped_column(
        StrEnumType(ApplicationStatus),
        default=ApplicationStatus.PENDING,
        server_default=ApplicationStatus.PENDING.value,
    )
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_notes: Mapped[str | None] = mapped_column(Text)
