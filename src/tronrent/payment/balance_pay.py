"""PLACEHOLDER (branch h/bot): the ``balancepay`` helper's module replaces this file at merge.
Debits the order's price from the balance (one ledger entry) and marks the order paid; no
delivery is started."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models import Order
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.order import OrderPaymentStatus, OrderStatus
from tronrent.order.errors import OrderNotFound
from tronrent.user.balance import balance as balance_service


async def pay_from_balance(
    session: AsyncSession, order_id: str, *, actor: str | None = None
) -> Order:
    order = await session.get(Order, order_id, with_for_update=True)
    if order is None or order.user_id is None:
        raise OrderNotFound(f"order {order_id} not found")
    if order.status != OrderStatus.PENDING:
        return order
    await balance_service.apply(
        session,
        user_id=order.user_id,
        currency=order.currency,
        delta_units=-order.final_price_units,
        cause_type=LedgerCause.ORDER_PAYMENT,
        cause_id=order.id,
    )
    order.status = OrderStatus.PAID
    order.payment_status = OrderPaymentStatus.PAID
    order.paid_amount_units = order.final_price_units
    order.paid_at = utcnow()
    await session.flush()
    return order
