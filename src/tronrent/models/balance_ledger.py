"""``balance_ledger``: one row per change of a user's balance, with its cause."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, BigIntPK, CreatedAtMixin, StrEnumType, UUIDType, enum_check
from tronrent.models.common import Currency


class LedgerCause(enum.StrEnum):
    TOP_UP = "top_up"  # cause_id: payments.id
    ORDER_PAYMENT = "order_payment"  # cause_id: orders.id
    ORDER_REFUND = "order_refund"  # cause_id: orders.id
    COMMISSION = "commission"  # cause_id: agent_earnings.id
    WITHDRAWAL = "withdrawal"  # cause_id: agent_withdrawals.id
    #: a rejected withdrawal's amount back on the balance; cause_id: agent_withdrawals.id
    WITHDRAWAL_RETURN = "withdrawal_return"
    ADJUSTMENT = "adjustment"  # cause_id: an admin-chosen unique reference
    IDLE_FEE = "idle_fee"  # cause_id: "<order id>:<UTC day>"
    AUTO_TOP_UP = "auto_top_up"  # cause_id: the customer's transfer that triggered the top-up


class BalanceLedgerEntry(CreatedAtMixin, Base):
    """Apply a change in ONE transaction: insert the entry (UNIQUE (cause_type, cause_id,
    currency) refuses a second application of the same cause), and update the user's balance
    with ``SET trx_balance_sun = trx_balance_sun + :delta`` (the users CHECK refuses a negative
    result); ``balance_after_units`` is the balance that update returned."""

    __tablename__ = "balance_ledger"
    __table_args__ = (
        UniqueConstraint("cause_type", "cause_id", "currency"),
        CheckConstraint("delta_units <> 0", name="delta"),
        CheckConstraint("balance_after_units >= 0", name="balance_after"),
        CheckConstraint(enum_check("currency", Currency), name="currency"),
        CheckConstraint(enum_check("cause_type", LedgerCause), name="cause_type"),
        Index("idx_balance_ledger_user_id", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id"))
    currency: Mapped[Currency] = mapped_column(StrEnumType(Currency, 10))
    delta_units: Mapped[int] = mapped_column(BigInteger)
    balance_after_units: Mapped[int] = mapped_column(BigInteger)
    cause_type: Mapped[LedgerCause] = mapped_column(StrEnumType(LedgerCause, 30))
    cause_id: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
