"""The narrow services the bot needs, as Protocols (flash orders, energy packages and top-ups,
on-chain balances)."""

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
    #: a bare payment to ``payment_address`` buys at this price (a walk-in); False in an agent's
    #: own bot, whose price only an order (its exact amount) carries: walk-ins have no bot
    walk_in: bool = True


#: what an order sells, as the bot tells them apart
FLASH, PACKAGE, TOP_UP = "flash", "package", "top_up"


@dataclass(frozen=True)
class CountState:
    """A count package's counts as the card shows them ("3 of 10 used, energy ready")."""

    total: int
    used: int
    paused: bool
    #: "pause" / "resume" on its way to the chain
    pending_action: str | None = None

    @property
    def remaining(self) -> int:
        return self.total - self.used


@dataclass(frozen=True)
class OrderView:
    """One order as the bot shows it (any order type). Amounts are integer base units of
    ``currency`` (sun for TRX, micro-units for USDT)."""

    order_id: str
    status: str
    payment_address: str | None
    amount_units: int | None
    expires_at: datetime | None
    recipient: str | None = None
    paid_amount_units: int | None = None
    transaction_count: int | None = None
    energy: int | None = None
    payment_tx_hash: str | None = None
    delegate_tx_hash: str | None = None
    created_at: datetime | None = None
    order_type: str = "energy_flash"
    #: the recipient had no account: the quote includes this activation fee
    activation_fee_sun: int | None = None
    currency: str = "TRX"
    #: FLASH, PACKAGE or TOP_UP
    kind: str = FLASH
    package_name: str | None = None
    duration_hours: int | None = None
    payment_method: str | None = None
    #: a count package's counts (None: not a count package, or not read)
    count: CountState | None = None


@dataclass(frozen=True)
class OrderPage:
    orders: list[OrderView]
    total: int


class FlashOrders(Protocol):
    """Flash rental as the bot uses it. Errors are ``AppError`` subclasses (shown localized)."""

    async def flash_terms(
        self, session: AsyncSession, bot_id: uuid.UUID | None = None
    ) -> FlashTerms: ...

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
class PackageOffer:
    """An active energy package with its prices for one unit (quantity 1)."""

    package_id: str
    name: str
    energy: int
    duration_hours: int
    trx_price_units: int | None  # None: not sold in that currency
    usdt_price_units: int | None
    min_quantity: int
    max_quantity: int
    #: a count package's transfers (None: an energy package)
    counts: int | None = None

    @property
    def currencies(self) -> tuple[str, ...]:
        """The currencies the package is sold in ("TRX", "USDT")."""
        prices = (("TRX", self.trx_price_units), ("USDT", self.usdt_price_units))
        return tuple(currency for currency, price in prices if price is not None)


@dataclass(frozen=True)
class AutoTopUpView:
    """A customer's auto top-up as the bot shows it (amounts in base units of ``currency``)."""

    order_id: str
    address: str
    #: the order's status: paid / delegating (starting), active, completed
    status: str
    threshold_energy: int
    price_units: int
    currency: str
    top_ups: int
    billed_units: int
    #: why it stopped (balance, operator, customer); None while it runs
    stopped_reason: str | None = None


@dataclass(frozen=True)
class AutoOffer:
    """Auto top-up for this customer: the price of one transfer's worth (None: not offered)
    and their running one, if any."""

    currency: str
    price_units: int | None
    running: AutoTopUpView | None


@dataclass(frozen=True)
class PackageQuote:
    """The price of ``quantity`` units of a package in ``currency`` (base units)."""

    offer: PackageOffer
    quantity: int
    currency: str
    unit_price_units: int
    price_units: int
    discount_units: int
    final_price_units: int


class PackageOrders(Protocol):
    """Energy packages and balance top-ups as the bot uses them. Errors are ``AppError``
    subclasses (shown localized)."""

    async def list_packages(
        self, session: AsyncSession, *, bot_id: uuid.UUID | None = None
    ) -> list[PackageOffer]:
        """The packages for sale at the prices of ``bot_id`` (None: the operator's)."""
        ...

    async def list_count_packages(
        self, session: AsyncSession, *, bot_id: uuid.UUID | None = None
    ) -> list[PackageOffer]:
        """The count packages for sale (``counts`` set) at the prices of ``bot_id``."""
        ...

    async def pause_count(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID, pause: bool
    ) -> OrderView:
        """Pause (``pause``) or resume the user's active count package; the card's view.
        ``COUNT_PACKAGE_NOT_FOUND``, ``COUNT_PACKAGE_NOT_ACTIVE``, ``COUNT_PACKAGE_BUSY``."""
        ...

    async def get_package(
        self, session: AsyncSession, package_id: str, *, bot_id: uuid.UUID | None = None
    ) -> PackageOffer | None:
        """The active package (None when unknown, inactive or not a package id)."""
        ...

    async def quote(
        self,
        session: AsyncSession,
        *,
        package_id: str,
        quantity: int,
        currency: str,
        user_id: uuid.UUID,
        bot_id: uuid.UUID,
    ) -> PackageQuote: ...

    async def activation_fee_sun(self, recipient: str) -> int:
        """What activating ``recipient`` adds to a TRX price (0: it has an account, or the node
        cannot tell, or the policy refunds instead)."""
        ...

    async def create_package_order(
        self,
        session: AsyncSession,
        *,
        package_id: str,
        quantity: int,
        recipient: str,
        currency: str,
        payment_method: str,
        user_id: uuid.UUID,
        bot_id: uuid.UUID,
        chat_id: int,
    ) -> OrderView:
        """A pending order; ``payment_method`` ``transfer`` (exact amount to the payment
        address) or ``balance`` (then :meth:`pay_from_balance`)."""
        ...

    async def pay_from_balance(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID
    ) -> OrderView:
        """Pay the user's pending order from their balance (``INSUFFICIENT_BALANCE`` if short)."""
        ...

    async def create_top_up(
        self, session: AsyncSession, *, user_id: uuid.UUID, currency: str, amount_units: int
    ) -> OrderView: ...

    async def auto_offer(self, session: AsyncSession, *, user_id: uuid.UUID) -> AutoOffer:
        """The auto top-up price and the user's running auto top-up."""
        ...

    async def start_auto(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        address: str,
        threshold_energy: int,
        bot_id: uuid.UUID,
        chat_id: int,
    ) -> AutoTopUpView:
        """Set one up, the first transfer's worth paid from the balance
        (``INSUFFICIENT_BALANCE``, ``ADDRESS_ALREADY_FOLLOWED``, ``AUTO_TOP_UP_NOT_OFFERED``,
        ``INVALID_ADDRESS``)."""
        ...

    async def stop_auto(
        self, session: AsyncSession, *, user_id: uuid.UUID, order_id: str
    ) -> AutoTopUpView:
        """Stop the user's auto top-up (``AUTO_TOP_UP_NOT_FOUND``, ``AUTO_TOP_UP_NOT_ACTIVE``)."""
        ...


@dataclass(frozen=True)
class AddressBalance:
    trx_sun: int
    usdt_units: int | None
    energy_available: int
    energy_limit: int


class ChainBalances(Protocol):
    async def address_balance(self, address: str) -> AddressBalance: ...
