"""Energy packages (seed 001): ``quantity`` x a package's energy for its duration.

Bought through `create_package_order`, paid by a TRX or USDT transfer (unique amount tail on
the shared payment address) or from the balance (``payment_method`` "balance": paid by
`user.balance`'s order payment, no tail). The energy (package energy x quantity plus the drift
margin) and the price (`pricing.quote.quote_order`, frozen on the order) are fixed at creation;
a payment is weighed against that price by `settle_package_payment`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.bot.agent_bots import agent_bots
from tronrent.kit.db import NewRows, adopt, object_rows
from tronrent.kit.time import now_ms, utcnow
from tronrent.models.common import Currency
from tronrent.models.energy_package import EnergyPackage, PackageType
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus, OrderType
from tronrent.order import ids
from tronrent.order.flash_config import FlashConfig
from tronrent.order.notify import OrderEvent, new_order_event_rows, notify_orders
from tronrent.order.recipient import RecipientState
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.order.service import validate_address
from tronrent.payment.balance_pay import debit_unsaved, mark_unsaved_paid
from tronrent.pool.energy import energy_per_transaction
from tronrent.pricing.calc import FlashPaymentKind, FlashQuote
from tronrent.pricing.quote import BuyerAgents, quote_order
from tronrent.product.base import (
    Delivery,
    SettleContext,
    Settlement,
    amount_due,
    format_amount,
    policies_for,
)
from tronrent.product.catalogue import Catalogue, find_package
from tronrent.product.customer import ensure_may_order
from tronrent.product.errors import PackageNotFound, PackageUnavailable, QuantityOutOfRange
from tronrent.product.tail import add_with_tail

PaymentMethod = Literal["transfer", "balance"]
#: quantity bounds when the package sets none
DEFAULT_MAX_QUANTITY = 100


def settle_package_payment(paid_units: int, *, price_units: int, expected_units: int) -> FlashQuote:
    """Weigh ``paid_units`` (not dust) against the order's price (activation fee included):
    below it underpaid (nothing bought); up to the amount the order asked for (price + its
    tail) exact; above that excess, ``excess = paid - price``. ``count`` is 1: the order, as
    created, is bought whole."""
    if paid_units < 0 or price_units < 0:
        raise ValueError("amounts must not be negative")
    if paid_units < price_units:
        return FlashQuote(FlashPaymentKind.UNDERPAID, paid_units, 0, 0, 0)
    if paid_units <= max(expected_units, price_units):
        return FlashQuote(FlashPaymentKind.EXACT, paid_units, 1, price_units, 0)
    return FlashQuote(FlashPaymentKind.EXCESS, paid_units, 1, price_units, paid_units - price_units)


class PackageStrategy:
    order_type: ClassVar[OrderType] = OrderType.ENERGY_RENTAL
    delivery: ClassVar[Delivery] = Delivery.ENERGY

    def settle(self, order: Order, paid_units: int, ctx: SettleContext) -> Settlement:
        due = amount_due(order)
        quote = settle_package_payment(
            paid_units, price_units=due, expected_units=order.expected_amount_units or due
        )
        return Settlement(
            quote=quote,
            policies=policies_for(order.currency, ctx.flash),
            paid_values={
                "transaction_count": order.quantity or 1,
                "energy_amount": order.energy_amount,
                "energy_per_transaction": order.energy_per_transaction,
                "final_price_units": order.final_price_units,
                "price_units": order.price_units,
            },
            underpaid_reason=f"paid {format_amount(paid_units, order.currency)}, the order costs "
            f"{format_amount(due, order.currency)}",
            event="package_payment_received",
            amounts_as_text=True,
            event_payload=self.describe(order),
            underpaid_event="package_payment_underpaid",
            underpaid_payload={"price": format_amount(due, order.currency)},
        )

    @staticmethod
    def describe(order: Order) -> dict[str, Any]:
        """What the customer's texts show of a package order."""
        return {
            "energy": order.energy_amount,
            "duration_s": order.duration_hours * 3600,
            "currency": order.currency.value,
            "price": format_amount(amount_due(order), order.currency),
        }


package = PackageStrategy()


async def _package(
    session: AsyncSession,
    package_id: uuid.UUID,
    kind: PackageType = PackageType.ENERGY,
    catalogue: Catalogue | None = None,
) -> EnergyPackage:
    found = await find_package(session, package_id, catalogue)
    if found is None:
        raise PackageNotFound(f"package {package_id} not found")
    if not found.is_active:
        raise PackageUnavailable(f"package {found.name!r} is not on sale")
    if found.package_type is not kind:
        noun = "an energy" if kind is PackageType.ENERGY else "a transaction-count"
        raise PackageUnavailable(f"package {found.name!r} is not {noun} package")
    return found


@dataclass(frozen=True, slots=True)
class OrderShape:
    """What differs between the products sold from the catalogue (energy packages here,
    count packages in `product.count`): the package type, the order type, the energy delegated
    for ``quantity`` of a package, and extra ``price_config`` entries."""

    kind: PackageType
    order_type: OrderType
    energy_for: Callable[[EnergyPackage, int, int], int]
    extra_config: Mapping[str, Any] = field(default_factory=dict)


ENERGY_SHAPE = OrderShape(
    PackageType.ENERGY,
    OrderType.ENERGY_RENTAL,
    lambda pkg, quantity, margin_bp: energy_per_transaction(
        pkg.energy_amount * quantity, margin_bp
    ),
)


def _check_quantity(pkg: EnergyPackage, quantity: int) -> None:
    low = pkg.min_order_amount or 1
    high = pkg.max_order_amount or DEFAULT_MAX_QUANTITY
    if not low <= quantity <= high:
        raise QuantityOutOfRange(
            f"quantity must be between {low} and {high} for package {pkg.name!r}",
            details={"min": low, "max": high},
        )


def _snapshot(pkg: EnergyPackage) -> dict[str, Any]:
    return {
        "id": str(pkg.id),
        "name": pkg.name,
        "energyAmount": pkg.energy_amount,
        "durationHours": pkg.duration_hours,
        "basePriceUnits": pkg.base_price_units,
        "currency": pkg.currency.value,
        "transactionCount": pkg.transaction_count,
    }


def new_package_order_id() -> str:
    return ids.new_order_id(ids.PACKAGE_PREFIX, now_ms())


async def create_package_order(
    session: AsyncSession,
    rt: FlashRuntime,
    *,
    package_id: uuid.UUID,
    quantity: int,
    recipient_address: str,
    currency: Currency | str,
    payment_method: PaymentMethod,
    user_id: uuid.UUID | None = None,
    bot_id: uuid.UUID | None = None,
    chat_id: int | None = None,
    recipient_state: RecipientState | None = None,
    shape: OrderShape = ENERGY_SHAPE,
    extra_config: Mapping[str, Any] | None = None,
    paid_by: str | None = None,
    agents: BuyerAgents | None = None,
    flash_config: FlashConfig | None = None,
    order_id: str | None = None,
    catalogue: Catalogue | None = None,
    along: Sequence[NewRows] = (),
) -> Order:
    """A pending package order with its price frozen (``shape``: energy package by default).

    Transfer: pay ``expected_amount_units`` (price + activation fee + a unique tail) in
    ``currency`` to ``rt.payment_address`` before ``expires_at``. Balance: no tail, paid from
    the user's balance (payment_method "balance"). ``extra_config``: more ``price_config``
    entries, written with the order (the merchant API's ``merchant``). ``paid_by`` (with
    payment method balance): paid from the balance at creation by that actor (the order
    written paid, its ``package_order_created`` and ``payment_received`` events queued
    together, the debit last: `balance_pay.mark_unsaved_paid`); a caller that writes more
    after it keeps the customer's row locked that much longer. ``agents``:
    the user's `pricing.quote.BuyerAgents` when the caller read them (with the user's row);
    ``flash_config``: the flash config (`order_service.config`), likewise. ``order_id``: the
    id the caller chose (`new_package_order_id`), to write rows naming it in the same flush.
    ``catalogue``: the package and the price rules from the process's catalogue
    (`product.catalogue`, checked by the caller against the token in this transaction)
    instead of reading them. ``along`` (with ``paid_by``): more rows naming the order
    (`kit.db.NewRows`), written with its debit - like its events' outbox rows: on
    PostgreSQL in the debit's statement, one round trip per table less.

    Raises:
        PackageNotFound (404), PackageUnavailable (422): unknown, inactive or not an energy
        package. QuantityOutOfRange (422). InvalidRecipient (422). CurrencyNotOffered (422).
        NoPaymentTailAvailable (503). UserBlocked (403): the user is blocked. With ``paid_by``
        what `pay_from_balance` raises (409 INSUFFICIENT_BALANCE: nothing written).
    """
    if paid_by is not None and payment_method != "balance":
        raise ValueError("paid_by needs payment_method balance")
    if along and paid_by is None:
        raise ValueError("rows along with the order need paid_by")
    currency = Currency(currency)
    recipient = validate_address(recipient_address)
    await ensure_may_order(session, user_id)
    pkg = await _package(session, package_id, shape.kind, catalogue)
    _check_quantity(pkg, quantity)
    price = await quote_order(
        session,
        package=pkg,
        quantity=quantity,
        currency=currency,
        user_id=user_id,
        bot_id=bot_id,
        agents=agents,
        rules=None if catalogue is None else catalogue.rules,
    )
    cfg = flash_config or await order_service.config(session, rt)
    per_unit = energy_per_transaction(pkg.energy_amount, cfg.margin_bp)
    now = utcnow()
    order_id = order_id or new_package_order_id()
    order = Order(
        id=order_id,
        order_number=order_id,
        order_type=shape.order_type,
        status=OrderStatus.PENDING,
        payment_status=OrderPaymentStatus.PENDING,
        user_id=user_id,
        bot_id=bot_id,
        agent_id=await agent_bots.owner_of(session, bot_id),
        agent_markup_units=price.agent_markup_units,
        chat_id=chat_id,
        package_id=pkg.id,
        quantity=quantity,
        currency=currency,
        target_address=recipient,
        energy_amount=shape.energy_for(pkg, quantity, cfg.margin_bp),
        energy_per_transaction=per_unit,
        duration_hours=pkg.duration_hours,
        price_units=price.price_units,
        original_price_units=price.original_price_units,
        discount_units=price.discount_units,
        final_price_units=price.final_price_units,
        payment_method=payment_method,
        price_config={
            "package": _snapshot(pkg),
            "quote": {
                "ruleId": str(price.rule_id) if price.rule_id else None,
                "breakdown": price.breakdown,
            },
            "flash": cfg.raw,
            **shape.extra_config,
            **(extra_config or {}),
        },
        expires_at=now + timedelta(seconds=rt.payment_timeout_s),
    )
    # the event as of its creation (pending), even when it is written paid
    events: list[OrderEvent] = [(order, "package_order_created", {"status": order.status.value})]
    if paid_by is not None:
        events.append(mark_unsaved_paid(session, order))
    elif payment_method == "transfer":
        granularity = rt.tail_granularity_sun
        fee = recipient_state.activation_fee_sun if recipient_state is not None else 0
        if fee and currency is Currency.TRX:
            order.activation_fee_sun = -(-fee // granularity) * granularity
        # written with its watch (and the rows the caller added naming it)
        await add_with_tail(session, rt, order, amount_due(order), granularity, now)
    else:
        session.add(order)
        await session.flush()
    events[0][2].update(
        {
            **package.describe(order),
            "package_name": pkg.name,
            "quantity": quantity,
            "payment_address": order.payment_address,
            "amount": (
                format_amount(order.expected_amount_units, currency, exact=True)
                if order.expected_amount_units
                else None
            ),
            "expires_at": order.expires_at.isoformat() if order.expires_at else None,
        }
    )
    if paid_by is None:
        await notify_orders(session, events)
        return order
    # paid from the balance: the order's row, the caller's and the events' are written with
    # the debit (on PostgreSQL in its statement: one round trip), last before the commit - its
    # UPDATE locks the customer's row until then
    rows = [object_rows(order), *along, *new_order_event_rows(events)]
    await debit_unsaved(session, order, actor=paid_by, along=rows)
    adopt(session, order)
    return order
