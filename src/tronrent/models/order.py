"""``orders``: seed 001's order table with seed 000's energy-flash extension columns."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tronrent.kit.db import (
    Base,
    PortableJSON,
    StrEnumType,
    TimestampMixin,
    UTCDateTime,
    UUIDType,
    enum_check,
)
from tronrent.models.common import Currency

if TYPE_CHECKING:
    from tronrent.models.energy_delegation import EnergyDelegation
    from tronrent.models.user import User


class OrderType(enum.StrEnum):
    ENERGY_FLASH = "energy_flash"  # seed 000: pay-per-transaction flash rental
    ENERGY_RENTAL = "energy_rental"  # seed 001: energy package (default)
    TRANSACTION_PACKAGE = "transaction_package"  # 笔数套餐
    BALANCE_TOP_UP = "balance_top_up"  # a transfer credited to the user's balance
    AUTO_TOP_UP = "auto_top_up"  # keep energy on an address, each top-up billed to the balance


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for payment
    PAID = "paid"  # payment matched, waiting for a pool
    DELEGATING = "delegating"  # delegation transaction(s) built/broadcast
    ACTIVE = "active"  # energy delegated, confirmed on chain
    RECLAIMING = "reclaiming"  # undelegation in progress
    COMPLETED = "completed"  # reclaimed (or, for count packages, all used)
    UNDERPAID = "underpaid"
    EXPIRED = "expired"  # payment window passed unpaid
    CANCELLED = "cancelled"
    FAILED = "failed"
    REFUNDING = "refunding"
    REFUNDED = "refunded"


class OrderPaymentStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    UNDERPAID = "underpaid"
    OVERPAID = "overpaid"
    REFUNDED = "refunded"
    FAILED = "failed"


#: Order statuses in which the order still waits for its payment (expected-amount tails of
#: these orders must be unique per payment address).
OPEN_ORDER_STATUSES = (OrderStatus.PENDING,)


class Order(TimestampMixin, Base):
    """An order. ``id`` is a string so both seeds' ids fit: ``FLASH_<ms>_<random>`` for flash
    orders (seed 000, also its ``VARCHAR(100) order_id`` foreign keys) and any unique string for
    package orders. ``order_number`` (seed 001) is the customer-facing number; for flash orders
    it equals ``id``.

    Amounts (``*_units``) are integer base units of ``currency`` (both TRX and USDT have 6
    decimals: sun, or USDT micro-units). ``energy_amount`` is NULL until a flash order is paid
    (the energy depends on the amount paid).
    """

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("energy_amount > 0", name="energy_amount"),
        CheckConstraint("duration_hours > 0", name="duration_hours"),
        CheckConstraint("price_units >= 0", name="price"),
        CheckConstraint("final_price_units >= 0", name="final_price"),
        CheckConstraint("discount_units >= 0", name="discount"),
        CheckConstraint("paid_amount_units >= 0", name="paid_amount"),
        CheckConstraint("expected_amount_units > 0", name="expected_amount"),
        CheckConstraint("transaction_count >= 0", name="transaction_count"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint(enum_check("order_type", OrderType), name="order_type"),
        CheckConstraint(enum_check("status", OrderStatus), name="status"),
        CheckConstraint(enum_check("payment_status", OrderPaymentStatus), name="payment_status"),
        CheckConstraint(enum_check("currency", Currency), name="currency"),
        # seed 001
        Index("idx_orders_user_id", "user_id"),
        Index("idx_orders_status", "status"),
        Index("idx_orders_payment_status", "payment_status"),
        Index("idx_orders_transaction_id", "transaction_id"),
        Index("idx_orders_tron_tx_hash", "tron_tx_hash"),
        # seed 000
        Index("idx_orders_order_type", "order_type"),
        Index("idx_orders_payment_address", "payment_address"),
        Index("idx_orders_from_address", "from_address"),
        Index("idx_orders_expires_at", "expires_at"),
        # ours: two open orders may never expect the same amount on the same address, so a
        # payment matched by its amount tail has exactly one candidate.
        Index(
            "uq_orders_open_expected_amount",
            "payment_address",
            "currency",
            "expected_amount_units",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("idx_orders_target_address", "target_address"),
        # admin search (0016_search): keyset pages newest first, and the delegation tx hash;
        # on PostgreSQL it includes what the overview's sales read takes: an index-only scan
        # (0033_console_bench, which dropped the plain created_at index it made redundant)
        Index(
            "idx_orders_created_at_id",
            "created_at",
            "id",
            postgresql_include=[
                "order_type",
                "currency",
                "paid_at",
                "paid_amount_units",
                "activation_fee_sun",
            ],
        ),
        Index("idx_orders_delegate_tx_hash", "delegate_tx_hash"),
        Index("idx_orders_agent_id", "agent_id"),
        CheckConstraint("agent_markup_units >= 0", name="agent_markup"),
    )

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    order_number: Mapped[str] = mapped_column(String(100), unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType, ForeignKey("users.id"))
    bot_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType, ForeignKey("bots.id"))
    package_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType, ForeignKey("energy_packages.id"))
    order_type: Mapped[OrderType] = mapped_column(
        StrEnumType(OrderType, 50),
        default=OrderType.ENERGY_RENTAL,
        server_default=OrderType.ENERGY_RENTAL.value,
    )
    currency: Mapped[Currency] = mapped_column(
        StrEnumType(Currency, 10), default=Currency.TRX, server_default=Currency.TRX.value
    )
    payment_status: Mapped[OrderPaymentStatus] = mapped_column(
        StrEnumType(OrderPaymentStatus),
        default=OrderPaymentStatus.PENDING,
        server_default=OrderPaymentStatus.PENDING.value,
    )
    status: Mapped[OrderStatus] = mapped_column(
        StrEnumType(OrderStatus),
        default=OrderStatus.PENDING,
        server_default=OrderStatus.PENDING.value,
    )
    energy_amount: Mapped[int | None] = mapped_column(BigInteger)
    duration_hours: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    price_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    original_price_units: Mapped[int | None] = mapped_column(BigInteger)
    discount_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    final_price_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    payment_method: Mapped[str | None] = mapped_column(String(20))
    transaction_id: Mapped[str | None] = mapped_column(String(100))
    tron_tx_hash: Mapped[str | None] = mapped_column(String(100))
    delegate_tx_hash: Mapped[str | None] = mapped_column(String(100))
    target_address: Mapped[str | None] = mapped_column(String(50))
    # seed 000 flash extension
    payment_address: Mapped[str | None] = mapped_column(String(100))
    paid_amount_units: Mapped[int | None] = mapped_column(BigInteger)
    transaction_count: Mapped[int | None] = mapped_column(Integer)
    from_address: Mapped[str | None] = mapped_column(String(100))
    delegation_result: Mapped[list[dict[str, Any]] | None] = mapped_column(PortableJSON)
    price_config: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    #: packages bought (package orders); NULL for flash orders and top-ups
    quantity: Mapped[int | None] = mapped_column(Integer)
    # what flash matching and notification need
    expected_amount_units: Mapped[int | None] = mapped_column(BigInteger)
    amount_tail_units: Mapped[int | None] = mapped_column(Integer)
    energy_per_transaction: Mapped[int | None] = mapped_column(Integer)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    status_reason: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the recipient had no account on chain at create-order: what activating it costs (sun,
    #: from getchainparameters), added to the quote; NULL = activated (or not known)
    activation_fee_sun: Mapped[int | None] = mapped_column(BigInteger)
    #: SHA-256 (hex) of the order token an HTTP customer got at create-order (see
    #: order.access); NULL: no token (bot and walk-in orders), only the chat / an operator acts
    access_token_hash: Mapped[str | None] = mapped_column(String(64))
    #: the agent whose own bot took the order (its commission chain starts there)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType, ForeignKey("agents.id"))
    #: the part of ``final_price_units`` that is the agent's markup (their own bot's price)
    agent_markup_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    user: Mapped[User | None] = relationship(lazy="raise")
    delegations: Mapped[list[EnergyDelegation]] = relationship(back_populates="order", lazy="raise")
