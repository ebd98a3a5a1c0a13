"""``bot_users``: which user talks to which bot, and in which chat (seed 001)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy import text as sql_text
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


class BotUserStatus(enum.StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


class BotUser(TimestampMixin, Base):
    __tablename__ = "bot_users"
    __table_args__ = (
        UniqueConstraint("bot_id", "user_id"),
        CheckConstraint(enum_check("status", BotUserStatus), name="status"),
        Index("idx_bot_users_user_id", "user_id"),
        Index("idx_bot_users_telegram_chat_id", "telegram_chat_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id", ondelete="CASCADE"))
    bot_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("bots.id", ondelete="CASCADE"))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[BotUserStatus] = mapped_column(
        StrEnumType(BotUserStatus),
        default=BotUserStatus.ACTIVE,
        server_default=BotUserStatus.ACTIVE.value,
    )
    first_interaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_interaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    total_messages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    preferences: Mapped[dict[str, Any]] = mapped_column(
        PortableJSON, default=dict, server_default=sql_text("'{}'")
    )
