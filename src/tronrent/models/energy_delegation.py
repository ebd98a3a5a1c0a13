"""``energy_delegations``: one delegation of energy from a pool to an order's address (seed 000)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tronrent.kit.db import Base, StrEnumType, TimestampMixin, UTCDateTime, UUIDType, enum_check

if TYPE_CHECKING:
    from tronrent.models.energy_pool import EnergyPool
    from tronrent.models.order import Order


class DelegationStatus(enum.StrEnum):
    """The seed's four values plus two in-flight states.

    pending -> broadcast -> success -> reclaiming -> expired; pending/broadcast -> failed.
    ``expired`` means the rental is over and the stake was reclaimed (undelegated).
    """

    PENDING = "pending"  # pool energy reserved, transaction not yet confirmed sent
    BROADCAST = "broadcast"  # signed transaction stored and broadcast, waiting for the block
    SUCCESS = "success"  # confirmed on chain; the recipient has the energy
    FAILED = "failed"
    RECLAIMING = "reclaiming"  # undelegate transaction stored/broadcast
    EXPIRED = "expired"  # undelegated: rental over


class EnergyDelegation(TimestampMixin, Base):
    __tablename__ = "energy_delegations"
    __table_args__ = (
        CheckConstraint("energy_amount > 0", name="energy_amount"),
        CheckConstraint("duration_hours > 0", name="duration_hours"),
        CheckConstraint("balance_sun > 0", name="balance_sun"),
        CheckConstraint("lock_period >= 0", name="lock_period"),
        CheckConstraint(enum_check("status", DelegationStatus), name="status"),
        Index("idx_energy_delegations_order_id", "order_id"),
        Index("idx_energy_delegations_pool_account", "pool_account_id"),
        Index("idx_energy_delegations_recipient", "recipient_address"),
        Index("idx_energy_delegations_status", "status"),
        Index("idx_energy_delegations_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"))
    pool_account_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("energy_pools.id"))
    recipient_address: Mapped[str] = mapped_column(String(100))
    energy_amount: Mapped[int] = mapped_column(BigInteger)
    #: staked TRX moved by the DelegateResourceContract (its ``balance``), in sun
    balance_sun: Mapped[int | None] = mapped_column(BigInteger)
    duration_hours: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: ``lock_period`` of the delegation in blocks (None: not locked)
    lock_period: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(String(100))
    undelegate_tx_hash: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[DelegationStatus] = mapped_column(
        StrEnumType(DelegationStatus),
        default=DelegationStatus.PENDING,
        server_default=DelegationStatus.PENDING.value,
    )
    error_message: Mapped[str | None] = mapped_column(Text)
    delegated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reclaimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship(back_populates="delegations", lazy="raise")
    pool: Mapped[EnergyPool] = relationship(lazy="raise")
