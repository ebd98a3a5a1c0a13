"""``energy_transactions``: on-chain energy movements of a pool for an order (seed 001).

One row per delegate/undelegate transaction the engine stores: pending when it is signed and
stored, then confirmed (block number) or failed - written by ``delegation.record``, for reporting
by pool and order. The exactly-once machinery lives in ``chain_transactions``; the
per-delegation state machine in ``energy_delegations``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, StrEnumType, TimestampMixin, UTCDateTime, UUIDType, enum_check


class EnergyTransactionType(enum.StrEnum):
    DELEGATE = "delegate"
    UNDELEGATE = "undelegate"


class EnergyTransactionStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class EnergyTransaction(TimestampMixin, Base):
    __tablename__ = "energy_transactions"
    __table_args__ = (
        CheckConstraint("energy_amount > 0", name="energy_amount"),
        CheckConstraint("duration_hours > 0", name="duration_hours"),
        CheckConstraint("retry_count >= 0", name="retry_count"),
        CheckConstraint(
            enum_check("transaction_type", EnergyTransactionType), name="transaction_type"
        ),
        CheckConstraint(enum_check("status", EnergyTransactionStatus), name="status"),
        Index("idx_energy_transactions_order_id", "order_id"),
        Index("idx_energy_transactions_pool_id", "pool_id"),
        Index("idx_energy_transactions_tx_hash", "tx_hash"),
        Index("idx_energy_transactions_status", "status"),
        Index("idx_energy_transactions_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"))
    pool_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("energy_pools.id"))
    transaction_type: Mapped[EnergyTransactionType] = mapped_column(
        StrEnumType(EnergyTransactionType),
        default=EnergyTransactionType.DELEGATE,
        server_default=EnergyTransactionType.DELEGATE.value,
    )
    from_address: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str] = mapped_column(String(50))
    energy_amount: Mapped[int] = mapped_column(BigInteger)
    duration_hours: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str | None] = mapped_column(String(100))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime())
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[EnergyTransactionStatus] = mapped_column(
        StrEnumType(EnergyTransactionStatus),
        default=EnergyTransactionStatus.PENDING,
        server_default=EnergyTransactionStatus.PENDING.value,
    )
    error_message: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
