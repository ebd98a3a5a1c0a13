"""``agent_changes``: every operator decision about agents, with who and why (ours, 0019)."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    CreatedAtMixin,
    PortableJSON,
    StrEnumType,
    UUIDType,
    enum_check,
)


class AgentAction(enum.StrEnum):
    APPROVE_APPLICATION = "approve_application"
    REJECT_APPLICATION = "reject_application"
    EDIT_AGENT = "edit_agent"
    APPROVE_WITHDRAWAL = "approve_withdrawal"
    REJECT_WITHDRAWAL = "reject_withdrawal"


class AgentChange(CreatedAtMixin, Base):
    """``subject`` names what was decided on (``application:<id>``, ``agent:<id>``,
    ``withdrawal:<id>``); ``before``/``after`` hold the fields that changed."""

    __tablename__ = "agent_changes"
    __table_args__ = (
        CheckConstraint(enum_check("action", AgentAction), name="action"),
        Index("idx_agent_changes_subject", "subject", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    action: Mapped[AgentAction] = mapped_column(StrEnumType(AgentAction, 30))
    before: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    after: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    reason: Mapped[str] = mapped_column(Text)
