"""``notification_outbox``: customer/operator messages waiting to be delivered (outbox)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    BigIntPK,
    CreatedAtMixin,
    PortableJSON,
    StrEnumType,
    UTCDateTime,
    UUIDType,
    enum_check,
)
from tronrent.kit.time import utcnow

#: an operator alert: no customer to send it to (it goes to TELEGRAM_ADMIN_CHAT_ID)
OPERATOR_ALERT_SQL = "user_id IS NULL AND chat_id IS NULL"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the retry budget


class NotificationOutbox(CreatedAtMixin, Base):
    """Written in the same transaction as the business change it reports; ``dedupe_key``
    (UNIQUE, e.g. ``"order:<id>:delivered"``) keeps a retried job from queueing it twice.
    ``chat_id`` NULL with ``user_id`` NULL means an operator alert."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint(enum_check("status", OutboxStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("idx_notification_outbox_due", "status", "next_attempt_at"),
        Index("idx_notification_outbox_created_at", "created_at"),  # retention (0028)
        # the console's operator alerts, newest first (0030): a few rows among the customers'
        Index(
            "idx_notification_outbox_operator",
            "created_at",
            "id",
            postgresql_where=text(OPERATOR_ALERT_SQL),
            sqlite_where=text(OPERATOR_ALERT_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("users.id", ondelete="SET NULL")
    )
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    bot_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("bots.id", ondelete="SET NULL")
    )
    order_id: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        StrEnumType(OutboxStatus),
        default=OutboxStatus.PENDING,
        server_default=OutboxStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
