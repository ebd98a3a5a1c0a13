"""Merchant API tables: keys, request nonces, merchant orders, callbacks and their delivery log."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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

if TYPE_CHECKING:
    from tronrent.models.order import Order


class ApiKeyStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class MerchantApiKey(CreatedAtMixin, Base):
    """One API key of a customer (several per customer).

    ``key_id`` is public (the ``X-Api-Key`` header); the secret is stored encrypted
    (``SECRET_KEYS``, `kit.crypto.SecretBox`) because verifying an HMAC needs it - a hash
    would not do. ``ip_allowlist``: addresses or CIDR networks; empty = any address.
    ``created_by`` / ``revoked_by``: ``admin:<name>`` or ``customer:<telegram id>``.
    """

    __tablename__ = "merchant_api_keys"
    __table_args__ = (
        CheckConstraint(enum_check("status", ApiKeyStatus), name="status"),
        Index("idx_merchant_api_keys_user_id", "user_id"),
        Index("idx_merchant_api_keys_created_at", "created_at", "id"),  # console (0031)
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    ip_allowlist: Mapped[list[str]] = mapped_column(PortableJSON)
    callback_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[ApiKeyStatus] = mapped_column(
        StrEnumType(ApiKeyStatus, 20),
        default=ApiKeyStatus.ACTIVE,
        server_default=ApiKeyStatus.ACTIVE.value,
    )
    created_by: Mapped[str] = mapped_column(String(100))
    created_reason: Mapped[str | None] = mapped_column(Text)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class MerchantNonce(Base):
    """A request nonce seen within the replay window (the store when no Redis is configured);
    rows older than the window are deleted by the callback sender's housekeeping."""

    __tablename__ = "merchant_nonces"
    __table_args__ = (Index("idx_merchant_nonces_seen_at", "seen_at"),)

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MerchantOrder(CreatedAtMixin, Base):
    """An order made through the merchant API: ``client_order_id`` is unique per customer, so
    creating the same one twice returns the first order. ``request_hash``: SHA-256 of what
    was asked, to refuse the same id with a different request (409)."""

    __tablename__ = "merchant_orders"
    __table_args__ = (
        UniqueConstraint("user_id", "client_order_id", name="uq_merchant_orders_client_id"),
        Index("idx_merchant_orders_user_created", "user_id", "created_at"),
    )

    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id"))
    api_key_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("merchant_api_keys.id"))
    client_order_id: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(String(500))
    #: never loaded (``raise``): it makes a flush write the order before this row
    order: Mapped[Order] = relationship(lazy="raise")


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # the retry schedule is used up


class MerchantCallback(CreatedAtMixin, Base):
    """One signed event for a merchant (outbox row), written in the transaction of the order
    change it reports. ``event_id`` (UNIQUE) is the order event's dedupe key: an event is
    queued once; delivered oldest first per order."""

    __tablename__ = "merchant_callbacks"
    __table_args__ = (
        CheckConstraint(enum_check("status", CallbackStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("idx_merchant_callbacks_due", "status", "next_attempt_at"),
        Index("idx_merchant_callbacks_order", "order_id", "id"),
        Index("idx_merchant_callbacks_created_at", "created_at"),  # retention (0028)
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    event_type: Mapped[str] = mapped_column(String(50))
    order_id: Mapped[str] = mapped_column(String(100))
    api_key_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("merchant_api_keys.id"))
    #: the order's own URL; NULL = the key's callback URL at sending time
    url: Mapped[str | None] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    status: Mapped[CallbackStatus] = mapped_column(
        StrEnumType(CallbackStatus, 20),
        default=CallbackStatus.PENDING,
        server_default=CallbackStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MerchantCallbackAttempt(Base):
    """The delivery log: one row per attempt (HTTP status or error, duration)."""

    __tablename__ = "merchant_callback_attempts"
    __table_args__ = (Index("idx_merchant_callback_attempts_cb", "callback_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    callback_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchant_callbacks.id"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class MerchantKeyChange(CreatedAtMixin, Base):
    """A change of a key's settings (IP allowlist, callback URL) by its customer in the bot
    (``customer:<telegram id>``) or by an operator (``admin:<name>``), with why; ``before`` /
    ``after`` hold only the fields that changed."""

    __tablename__ = "merchant_key_changes"
    __table_args__ = (Index("idx_merchant_key_changes_key", "api_key_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    api_key_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("merchant_api_keys.id"))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    after: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
