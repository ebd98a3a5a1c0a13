"""``agent_withdrawals``: an agent's request to be paid out on chain (ours, migration 0019)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
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


class WithdrawalStatus(enum.StrEnum):
    PENDING_REVIEW = "pending_review"  # above the auto-approve threshold: an operator decides
    APPROVED = "approved"  # the payout job sends it (a stored transfer, see agent.payout)
    PAID = "paid"  # the transfer is in a block
    REJECTED = "rejected"  # refused by an operator: the amount went back to the balance


class AgentWithdrawal(TimestampMixin, Base):
    """``amount_units`` left the agent's balance when it was requested (a ``withdrawal`` ledger
    entry, cause id = this id); ``payout_units`` = amount - fee is what the transfer sends."""

    __tablename__ = "agent_withdrawals"
    __table_args__ = (
        CheckConstraint("amount_units > 0", name="amount"),
        CheckConstraint("fee_units >= 0", name="fee"),
        CheckConstraint("payout_units > 0", name="payout"),
        CheckConstraint("payout_units + fee_units = amount_units", name="payout_sum"),
        CheckConstraint(enum_check("status", WithdrawalStatus), name="status"),
        CheckConstraint(enum_check("currency", Currency), name="currency"),
        Index("idx_agent_withdrawals_agent_id", "agent_id", "created_at"),
        Index("idx_agent_withdrawals_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("agents.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id"))
    currency: Mapped[Currency] = mapped_column(StrEnumType(Currency, 10))
    amount_units: Mapped[int] = mapped_column(BigInteger)
    fee_units: Mapped[int] = mapped_column(BigInteger)
    payout_units: Mapped[int] = mapped_column(BigInteger)
    to_address: Mapped[str] = mapped_column(String(50))
    status: Mapped[WithdrawalStatus] = mapped_column(StrEnumType(WithdrawalStatus, 20))
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_notes: Mapped[str | None] = mapped_column(Text)
    txid: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
