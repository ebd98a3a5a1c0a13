"""``payments``: every incoming on-chain transfer to a watched address, recorded exactly once."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    BigIntPK,
    StrEnumType,
    TimestampMixin,
    UTCDateTime,
    UUIDType,
    enum_check,
)
from tronrent.models.common import Currency


class PaymentStatus(enum.StrEnum):
    RECEIVED = "received"  # recorded, not yet handled
    MATCHED = "matched"  # applied to an order (or a top-up)
    DUST = "dust"  # below min_amount: recorded and ignored
    UNDERPAID = "underpaid"
    EXCESS = "excess"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    IGNORED = "ignored"
    ORPHANED = "orphaned"  # its block left the canonical chain (fork)


class MatchMethod(enum.StrEnum):
    WALK_IN = "walk_in"  # no order: energy goes to the sender
    AMOUNT_TAIL = "amount_tail"
    SENDER = "sender"  # sender = the order's recipient
    MANUAL = "manual"  # attached to its order by an operator (payment.admin)
    TOP_UP = "top_up"


class Payment(TimestampMixin, Base):
    """One incoming transfer. ``UNIQUE (tx_hash, event_index)`` makes recording idempotent
    (insert ... ON CONFLICT DO NOTHING; act only when the row is new). ``event_index`` is 0 for a
    native TRX transfer (TRON transactions carry one contract) and the log index of the
    ``Transfer`` event for TRC20. ``amount_units`` is sun (TRX) or USDT micro-units; zero-value
    TRC20 transfers (address-poisoning spam) are recorded as dust.

    ``status_before_orphan``: while ``ORPHANED``, the status the payment had when its block
    left the canonical chain (restored when its transaction is seen again; NULL otherwise)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("tx_hash", "event_index"),
        CheckConstraint("amount_units >= 0", name="amount"),
        CheckConstraint("event_index >= 0", name="event_index"),
        CheckConstraint("block_number >= 0", name="block_number"),
        CheckConstraint(enum_check("asset", Currency), name="asset"),
        CheckConstraint(enum_check("status", PaymentStatus), name="status"),
        CheckConstraint(
            "status_before_orphan IS NULL OR " + enum_check("status_before_orphan", PaymentStatus),
            name="status_before_orphan",
        ),
        CheckConstraint(
            "match_method IS NULL OR " + enum_check("match_method", MatchMethod),
            name="match_method",
        ),
        Index("idx_payments_to_address_block", "to_address", "block_number"),
        Index("idx_payments_from_address", "from_address"),
        Index("idx_payments_order_id", "order_id"),
        Index("idx_payments_block_number", "block_number"),
        Index("idx_payments_status", "status"),
        # admin search (0016_search): keyset pages newest first
        Index("idx_payments_created_at_id", "created_at", "id"),
        Index(
            "idx_payments_unhandled",
            "id",
            postgresql_where=text("handled_at IS NULL"),
            sqlite_where=text("handled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(64))
    event_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    asset: Mapped[Currency] = mapped_column(StrEnumType(Currency, 10))
    token_contract: Mapped[str | None] = mapped_column(String(50))
    from_address: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str] = mapped_column(String(50))
    amount_units: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_id: Mapped[str | None] = mapped_column(String(64))
    block_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[PaymentStatus] = mapped_column(
        StrEnumType(PaymentStatus),
        default=PaymentStatus.RECEIVED,
        server_default=PaymentStatus.RECEIVED.value,
    )
    status_before_orphan: Mapped[PaymentStatus | None] = mapped_column(StrEnumType(PaymentStatus))
    match_method: Mapped[MatchMethod | None] = mapped_column(StrEnumType(MatchMethod))
    order_id: Mapped[str | None] = mapped_column(String(100), ForeignKey("orders.id"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType, ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
