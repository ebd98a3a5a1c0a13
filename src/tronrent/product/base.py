"""What differs per product, behind one small interface the order engine calls.

The engine (scanner intake, `payment.service` batches, `delegation.flows`, the sweeper) is
product-blind: it records a payment, matches it to an open order by amount tail (or sender),
and then asks the order's strategy (`registry.strategy_for`) what the payment is worth and what
is delivered. A new product (count packages, agents' orders, merchant orders) is a new module
implementing `ProductStrategy` plus one line in `registry.STRATEGIES` - never a branch in the
engine. docs/products.md has the lifecycle.

Pure: no session, no I/O (the creation of an order is each product module's own function).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

from tronrent.kit.money import format_trx, format_usdt
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderType
from tronrent.order.flash_config import FlashConfig
from tronrent.pricing.calc import FlashPolicies, FlashQuote

#: USDT payments below this (0.1 USDT) are dust: zero- and tiny-value TRC20 transfers are the
#: address-poisoning spam of the USDT world (TRX payments use the flash ``min_amount``)
USDT_DUST_UNITS = 100_000


class Delivery(enum.StrEnum):
    """What a paid order gets."""

    ENERGY = "energy"  # a delegation job; reclaimed at expires_at (rental length on the order)
    BALANCE = "balance"  # a balance_ledger credit; the order completes at once


@dataclass(frozen=True, slots=True)
class SettleContext:
    """What settling a payment may use besides the order: the flash config (its wrong-amount
    policies apply to every product) and the amount-tail granularity."""

    flash: FlashConfig
    tail_granularity: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """A payment weighed against its order.

    ``quote``: kind (dust | underpaid | exact | excess), paid, count, charged, excess - amounts
    in base units of the payment's currency (the field names say sun for history). ``policies``
    decide what is refunded (`pricing.calc.decide_refund`). ``paid_values``: the columns a paid
    order gets. ``underpaid_reason``: the order's status reason when underpaid. ``event``
    and ``event_payload``: the customer event of a paid order (``underpaid_event`` when
    underpaid).
    """

    quote: FlashQuote
    policies: FlashPolicies
    paid_values: dict[str, Any] = field(default_factory=dict)
    underpaid_reason: str = ""
    event: str = "payment_received"
    event_payload: dict[str, Any] = field(default_factory=dict)
    underpaid_event: str = "payment_underpaid"
    underpaid_payload: dict[str, Any] = field(default_factory=dict)
    #: the events carry ``paid``/``refund`` as text with the currency ("12.5 USDT")
    amounts_as_text: bool = False


class ProductStrategy(Protocol):
    """One product. ``order_type``: the orders it owns; ``delivery``: what a paid order gets.

    When it ends is data on the order the product module writes at creation
    (``duration_hours``; the delegation flow derives ``lock_period`` and ``expires_at`` from it,
    ``FlashRuntime.rental_duration_s`` overrides it in tests and demos) - the flows stay
    product-blind.
    """

    order_type: ClassVar[OrderType]
    delivery: ClassVar[Delivery]

    def settle(self, order: Order, paid_units: int, ctx: SettleContext) -> Settlement:
        """Weigh a payment matched to ``order`` (same currency, not dust)."""
        ...


def policies_for(currency: Currency, flash: FlashConfig) -> FlashPolicies:
    """The wrong-amount policies for a payment in ``currency``: the flash config's; the refund
    fee (TRX) applies to TRX refunds only."""
    if currency is Currency.TRX:
        return flash.policies
    return replace(flash.policies, refund_fee_sun=0)


def format_amount(units: int, currency: Currency | str, *, exact: bool = False) -> str:
    """``units`` for people: ``1.5 TRX``, ``12.3 USDT``; ``exact``: every decimal, as an amount
    to send is shown (``3.007440 USDT``, the same digits as the payment card)."""
    currency = Currency(currency)
    decimals = 6 if exact else 0
    if currency is Currency.TRX:
        return f"{format_trx(units, min_decimals=decimals)} TRX"
    return f"{format_usdt(units, min_decimals=decimals)} USDT"


def dust_units(currency: Currency, flash: FlashConfig) -> int:
    """Payments below this are dust: the flash ``min_amount`` for TRX, `USDT_DUST_UNITS`."""
    return flash.price.min_amount_sun if currency is Currency.TRX else USDT_DUST_UNITS


def amount_due(order: Order) -> int:
    """What the order costs without its tail: the frozen final price plus the recipient's
    activation fee quoted with it (a TRX transfer order for an address with no account; paid
    from the balance, the same amount is debited)."""
    return order.final_price_units + (order.activation_fee_sun or 0)
