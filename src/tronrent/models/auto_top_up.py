"""``auto_top_ups``: "keep energy on my address" - a count package with no prepaid count.

One row per ``auto_top_up`` order: the address is held one delegation of ``held_energy``
(unlocked), and every USDT transfer the scanner sees from it is a ``count_package_uses`` row of
the order, like a count package's. ``drawn_energy`` is what the transfers drew from the address
since our last top-up (from their receipts: no polling); when ``held_energy - drawn_energy``
falls below ``threshold_energy`` the address is topped up (undelegate + re-delegate the same
balance) and the transfers' worth is billed to the user's balance (ledger cause
``auto_top_up``, cause id = the triggering transfer's hash). ``stopped_reason`` says why it
ended (``balance``: the balance ran out; ``operator``: stopped by an operator; ``customer``:
stopped by the customer).
"""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy import false as sql_false
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, StrEnumType, TimestampMixin, UUIDType, enum_check
from tronrent.models.common import Currency


class AutoStopReason(enum.StrEnum):
    BALANCE = "balance"  # the balance did not cover a top-up
    OPERATOR = "operator"  # stopped through the admin route (who and why in ``stop_note``)
    CUSTOMER = "customer"  # stopped by the customer (merchant API or bot; who in ``stop_note``)


class AutoTopUp(TimestampMixin, Base):
    __tablename__ = "auto_top_ups"
    __table_args__ = (
        CheckConstraint("threshold_energy > 0", name="threshold_energy"),
        CheckConstraint("held_energy >= threshold_energy", name="held_energy"),
        CheckConstraint("energy_per_transfer > 0", name="energy_per_transfer"),
        CheckConstraint("price_units > 0", name="price_units"),
        CheckConstraint("drawn_energy >= 0", name="drawn_energy"),
        CheckConstraint("top_ups >= 0", name="top_ups"),
        CheckConstraint("billed_units >= 0", name="billed_units"),
        CheckConstraint(enum_check("currency", Currency), name="currency"),
        CheckConstraint(enum_check("stopped_reason", AutoStopReason), name="stopped_reason"),
        Index("idx_auto_top_ups_address", "address"),
        Index("idx_auto_top_ups_user_id", "user_id"),
    )

    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id"))
    #: the customer's address: its USDT transfers are the uses
    address: Mapped[str] = mapped_column(String(50))
    #: top up once the address's energy (as the receipts tell it) falls below this
    threshold_energy: Mapped[int] = mapped_column(BigInteger)
    #: the energy delegated to the address (threshold + the drift margin)
    held_energy: Mapped[int] = mapped_column(BigInteger)
    #: one transfer's energy (e.g. 65,000): the unit a top-up is billed in
    energy_per_transfer: Mapped[int] = mapped_column(BigInteger)
    #: price of one transfer's worth, in base units of ``currency``
    price_units: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[Currency] = mapped_column(StrEnumType(Currency, 10))
    drawn_energy: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    top_ups: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    billed_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stopped_reason: Mapped[AutoStopReason | None] = mapped_column(StrEnumType(AutoStopReason))
    stop_note: Mapped[str | None] = mapped_column(Text)
    #: paused by the customer: our energy taken back, the address not followed, nothing billed
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    #: a pause's undelegation / a resume's delegation on its way (``pause`` / ``resume``) and
    #: the txids of its stored transactions, like a count package's (`count.life`)
    pending_action: Mapped[str | None] = mapped_column(String(10))
    pending_txids: Mapped[str | None] = mapped_column(String(700))
