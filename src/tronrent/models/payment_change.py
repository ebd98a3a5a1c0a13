"""``payment_changes``: every operator action on a payment (manual refund, manual match) with
who and why."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    CreatedAtMixin,
    PortableJSON,
    StrEnumType,
    UUIDType,
    enum_check,
)


class PaymentAction(enum.StrEnum):
    REFUND = "refund"  # an operator sent the payment back (payment.refund)
    MATCH = "match"  # an operator attached the payment to an order


class PaymentChange(CreatedAtMixin, Base):
    """Append-only. ``before``/``after`` hold the payment fields the action changed (status,
    order, match method); ``actor`` is ``admin:<username>``. ``order_id``: the order a match
    attached the payment to."""

    __tablename__ = "payment_changes"
    __table_args__ = (
        CheckConstraint(enum_check("action", PaymentAction), name="action"),
        Index("idx_payment_changes_payment_id", "payment_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("payments.id"))
    order_id: Mapped[str | None] = mapped_column(String(100), ForeignKey("orders.id"))
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    action: Mapped[PaymentAction] = mapped_column(StrEnumType(PaymentAction, 20))
    before: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    after: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    reason: Mapped[str] = mapped_column(Text)
