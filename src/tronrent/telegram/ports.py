"""The narrow services the bot needs, as Protocols (flash orders, on-chain balances)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class FlashTerms:
    """Price and rules of energy flash rental, as shown to customers."""

    payment_address: str
    single_price_sun: int
    max_transactions: int
    expiry_hours: int
    min_amount_sun: int
    energy_per_transaction: int
    #: the rental's true length (``ENERGY_FLASH_RENTAL_SECONDS`` overrides ``expiry_hours``)
    rental_seconds: int = 0


@dataclass(frozen=True)
class OrderView:
    """One order as the bot shows it (any order type)."""

    order_id: str
    status: str
    payment_address: str | None
    amount_sun: int | None
    expires_at: datetime | None
    recipient: str | None = None
    paid_amount_sun: int | None = None
    transaction_count: int | None = None
    energy: int | None = None
    payment_tx_hash: str | None = None
    delegate_tx_hash: str | None = None
    created_at: datetime | None = None
    order_type: str = "energy_flash"
    #: the recipient had no account: the quote includes this activation fee
    activation_fee_sun: int | None = None


@dataclass(frozen=True)
class OrderPage:
    orders: list[OrderView]
    total: int


class FlashOrders(Protocol):
    """Flash rental as the bot uses it. Errors are ``AppError`` subclasses (shown localized)."""

    async def flash_terms(self, session: AsyncSession) -> FlashTerms: ...

    async def create_flash_order(
        self,
        session: AsyncSession,
        *,
        recipient: str,
        chat_id: int,
        user_id: uuid.UUID,
        bot_id: uuid.UUID,
    ) -> OrderView: ...

    async def get_order_for_user(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID
    ) -> OrderView | None:
        """The order if it exists and belongs to ``user_id`` (None otherwise: never reveal)."""
        ...

    async def cancel_order(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID
    ) -> OrderView: ...

    async def list_orders_for_user(
        self, session: AsyncSession, *, user_id: uuid.UUID, offset: int, limit: int
    ) -> OrderPage: ...


@dataclass(frozen=True)
class AddressBalance:
    trx_sun: int
    usdt_units: int | None
    energy_available: int
    energy_limit: int


class ChainBalances(Protocol):
    async def address_balance(self, address: str) -> AddressBalance: ...
