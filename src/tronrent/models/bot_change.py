"""``bot_changes``: every operator change of a bot (add, edit, status, removal) with who and why."""

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


class BotAction(enum.StrEnum):
    ADD = "add"
    EDIT = "edit"
    REMOVE = "remove"


class BotChange(CreatedAtMixin, Base):
    """``before``/``after`` hold only the fields that changed; a new token or webhook secret is
    recorded as ``"(changed)"``, never its value. ``bot_id`` has no foreign key: the history of a
    removed bot stays (with its ``username`` at the time)."""

    __tablename__ = "bot_changes"
    __table_args__ = (
        CheckConstraint(enum_check("action", BotAction), name="action"),
        Index("idx_bot_changes_bot_id", "bot_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    bot_id: Mapped[uuid.UUID] = mapped_column(UUIDType)
    username: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    action: Mapped[BotAction] = mapped_column(StrEnumType(BotAction, 20))
    before: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    after: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    reason: Mapped[str] = mapped_column(Text)
