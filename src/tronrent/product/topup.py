"""Balance top-ups: a transfer (TRX or USDT, unique amount tail) credited to a user's balance.

`create_top_up` opens an order of type ``balance_top_up`` on the shared payment address; the
payment it matches is credited in full (whatever was sent, dust aside) through
`BalanceService.apply` (cause ``top_up``, cause id = the payment id: a replayed payment is never
credited twice) in the payment batch's transaction, and the order completes.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import now_ms, utcnow
from tronrent.models import User
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus, OrderType
from tronrent.models.payment import Payment
from tronrent.order import ids
from tronrent.order.notify import notify_order
from tronrent.order.runtime import FlashRuntime
from tronrent.pricing.calc import FlashPaymentKind, FlashQuote
from tronrent.product.base import (
    USDT_DUST_UNITS,
    Delivery,
    SettleContext,
    Settlement,
    format_amount,
    policies_for,
)
from tronrent.product.customer import customer_chat, ensure_not_blocked
from tronrent.product.errors import InvalidTopUp
from tronrent.product.tail import add_with_tail
from tronrent.user.balance import MAX_DELTA_UNITS
from tronrent.user.balance import balance as balance_service
from tronrent.user.errors import UserNotFound

#: the smallest top-up one may ask for (1 TRX / 1 USDT): above every dust threshold
MIN_TOP_UP_UNITS = 1_000_000


class TopUpStrategy:
    order_type: ClassVar[OrderType] = OrderType.BALANCE_TOP_UP
    delivery: ClassVar[Delivery] = Delivery.BALANCE

    def settle(self, order: Order, paid_units: int, ctx: SettleContext) -> Settlement:
        """Whatever was paid is credited: never underpaid or excess."""
        quote = FlashQuote(FlashPaymentKind.EXACT, paid_units, 0, paid_units, 0)
        return Settlement(
            quote=quote,
            policies=policies_for(order.currency, ctx.flash),
            paid_values={"final_price_units": paid_units, "price_units": paid_units},
            event="top_up_credited",
            amounts_as_text=True,
            event_payload={"amount": format_amount(paid_units, order.currency)},
        )


top_up = TopUpStrategy()


async def credit(session: AsyncSession, order: Order, payment: Payment) -> bool:
    """Credit a matched top-up payment to the order's user (once per payment); whether this
    call wrote the entry."""
    assert order.user_id is not None
    applied = await balance_service.apply(
        session,
        user_id=order.user_id,
        currency=payment.asset,
        delta_units=payment.amount_units,
        cause_type=LedgerCause.TOP_UP,
        cause_id=str(payment.id),
        note=f"top-up {order.id}, tx {payment.tx_hash}",
    )
    return applied.created


async def create_top_up(
    session: AsyncSession,
    rt: FlashRuntime,
    *,
    user_id: uuid.UUID,
    currency: Currency | str,
    amount_units: int,
) -> Order:
    """A pending top-up: pay ``expected_amount_units`` (``amount_units`` lifted to a unique
    tail) in ``currency`` to ``rt.payment_address`` before ``expires_at``.

    Raises:
        UserNotFound (404). UserBlocked (403): the user is blocked.
        InvalidTopUp (422): amount below 1 or too large.
        NoPaymentTailAvailable (503).
    """
    currency = Currency(currency)
    if not MIN_TOP_UP_UNITS <= amount_units <= MAX_DELTA_UNITS // 2:
        raise InvalidTopUp(
            f"a top-up is at least {format_amount(MIN_TOP_UP_UNITS, currency)}",
            details={"minUnits": MIN_TOP_UP_UNITS, "maxUnits": MAX_DELTA_UNITS // 2},
        )
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound("user not found")
    ensure_not_blocked(user)
    assert MIN_TOP_UP_UNITS > USDT_DUST_UNITS
    chat = await customer_chat(session, user_id)
    now = utcnow()
    order_id = ids.new_order_id(ids.TOP_UP_PREFIX, now_ms())
    order = Order(
        id=order_id,
        order_number=order_id,
        order_type=OrderType.BALANCE_TOP_UP,
        status=OrderStatus.PENDING,
        payment_status=OrderPaymentStatus.PENDING,
        user_id=user_id,
        bot_id=chat.bot_id,
        chat_id=chat.chat_id,
        currency=currency,
        payment_method="transfer",
        price_units=amount_units,
        final_price_units=amount_units,
        expires_at=now + timedelta(seconds=rt.payment_timeout_s),
    )
    expected = await add_with_tail(session, rt, order, amount_units, rt.tail_granularity_sun, now)
    payload: dict[str, Any] = {
        "payment_address": rt.payment_address,
        "amount": format_amount(expected, currency, exact=True),
        "expires_at": order.expires_at.isoformat() if order.expires_at else None,
    }
    await notify_order(session, order, "top_up_created", payload)
    return order
