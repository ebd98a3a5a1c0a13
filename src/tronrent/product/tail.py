"""The amount a transfer order asks for: its price lifted to a unique amount tail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.order import Order
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service


def lift_to_tail(price_units: int, tail: int, granularity: int) -> int:
    """The least amount above ``price_units`` whose remainder modulo ``granularity`` is
    ``tail`` (1 <= tail < granularity): the price plus at most one granule."""
    if not 0 < tail < granularity:
        raise ValueError("tail must be in [1, granularity)")
    amount = price_units - price_units % granularity + tail
    return amount if amount > price_units else amount + granularity


async def add_with_tail(
    session: AsyncSession,
    rt: FlashRuntime,
    order: Order,
    price_units: int,
    granularity: int,
    started_at: datetime,
) -> int:
    """Write a new transfer ``order`` on ``rt.payment_address`` expecting ``price_units`` lifted
    to a unique tail (`order_service.add_with_tail`: a tail unique among its open orders and
    those still in their grace period, so a payment of any amount with that tail finds the
    order; drawn again when a concurrent order took it), with its payment watch. Raises
    `NoPaymentTailAvailable` (503) when every tail is taken. The amount the order expects."""
    tail = await order_service.add_with_tail(
        session,
        rt,
        order,
        granularity,
        lambda tail: lift_to_tail(price_units, tail, granularity),
        started_at,
    )
    return lift_to_tail(price_units, tail, granularity)
