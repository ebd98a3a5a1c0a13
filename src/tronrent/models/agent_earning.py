"""``agent_earnings``: commission an agent earns on an order (seed 001)."""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, StrEnumType, TimestampMixin, UTCDateTime, UUIDType, enum_check
from tronrent.models.common import Currency


class EarningType(enum.StrEnum):
    COMMISSION = "commission"
    BONUS = "bonus"
    ADJUSTMENT = "adjustment"


class EarningStatus(enum.StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    CANCELLED = "cancelled"


class AgentEarning(TimestampMixin, Base):
    """UNIQUE (agent_id, order_id, earning_type): a commission is credited once per order."""

    __tablename__ = "agent_earnings"
    __table_args__ = (
        UniqueConstraint("agent_id", "order_id", "earning_type"),
        CheckConstraint("amount_units >= 0", name="amount"),
        CheckConstraint("base_amount_units >= 0", name="base_amount"),
        CheckConstraint("commission_bps >= 0 AND commission_bps <= 10000", name="commission_bps"),
        CheckConstraint("level >= 1", name="level"),
        CheckConstraint(enum_check("earning_type", EarningType), name="earning_type"),
        CheckConstraint(enum_check("status", EarningStatus), name="status"),
        CheckConstraint(enum_check("currency", Currency), name="currency"),
        Index("idx_agent_earnings_order_id", "order_id"),
        Index("idx_agent_earnings_status", "status"),
        # console pages (0031)
        Index("idx_agent_earnings_created_at", "created_at", "id"),
        Index("idx_agent_earnings_agent_created", "agent_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    agent_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("agents.id"))
    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"))
    earning_type: Mapped[EarningType] = mapped_column(
        StrEnumType(EarningType),
        default=EarningType.COMMISSION,
        server_default=EarningType.COMMISSION.value,
    )
    #: 1 = the direct referrer, 2 = its parent agent, ...
    level: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    amount_units: Mapped[int] = mapped_column(BigInteger)
    commission_bps: Mapped[int] = mapped_column(Integer)
    base_amount_units: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[Currency] = mapped_column(
        StrEnumType(Currency, 10), default=Currency.TRX, server_default=Currency.TRX.value
    )
    status: Mapped[EarningStatus] = mapped_column(
        StrEnumType(EarningStatus),
        default=EarningStatus.PENDING,
        server_default=EarningStatus.PENDING.value,
    )
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settlement_tx_id: Mapped[str | None] = mapped_column(String(100))
