"""``bots``: the Telegram bots the platform runs (seed 001); tokens are stored encrypted."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
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


class BotStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Bot(TimestampMixin, Base):
    """A Telegram bot. The seed's plaintext ``token`` column is split in two: ``token_encrypted``
    (authenticated ciphertext, ``tronrent.kit.crypto``) and ``token_hash`` (a keyed hash of the
    token) which carries the seed's UNIQUE so the same bot cannot be added twice.

    An agent's own bot (``owner_agent_id``, issue 12) waits ``inactive`` until an operator
    approves it (``approved_at``); it sells at the operator's prices plus ``agent_markup_bps``,
    which the agent picks within the operator's ``min_markup_bps..max_markup_bps``."""

    __tablename__ = "bots"
    __table_args__ = (
        CheckConstraint(enum_check("status", BotStatus), name="status"),
        CheckConstraint("rate_limit > 0", name="rate_limit"),
        CheckConstraint("current_users >= 0", name="current_users"),
        Index("idx_bots_status", "status"),
        Index("idx_bots_owner_agent_id", "owner_agent_id"),
        CheckConstraint(
            "min_markup_bps >= 0 AND min_markup_bps <= agent_markup_bps"
            " AND agent_markup_bps <= max_markup_bps AND max_markup_bps <= 10000",
            name="agent_markup",
        ),
        CheckConstraint(
            "owner_agent_id IS NULL OR approved_at IS NOT NULL OR status = 'inactive'",
            name="agent_bot_approved",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    token_encrypted: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[BotStatus] = mapped_column(
        StrEnumType(BotStatus), default=BotStatus.ACTIVE, server_default=BotStatus.ACTIVE.value
    )
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(
        PortableJSON, default=dict, server_default=sql_text("'{}'")
    )
    commands: Mapped[list[Any]] = mapped_column(
        PortableJSON, default=list, server_default=sql_text("'[]'")
    )
    welcome_message: Mapped[str | None] = mapped_column(Text)
    help_message: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    maintenance_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rate_limit: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    max_users: Mapped[int | None] = mapped_column(Integer)
    current_users: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_messages: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: an agent's own bot: its orders are the agent's (``orders.agent_id``)
    owner_agent_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType, ForeignKey("agents.id"))
    agent_markup_bps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    min_markup_bps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_markup_bps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
