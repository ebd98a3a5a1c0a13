"""The amount a transfer order asks for: its price lifted to a unique amount tail."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.order.errors import NoPaymentTailAvailable
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.payment.matching import TailsExhausted, choose_tail


def lift_to_tail(price_units: int, tail: int, granularity: int) -> int:
    """The least amount above ``price_units`` whose remainder modulo ``granularity`` is
    ``tail`` (1 <= tail < granularity): the price plus at most one granule."""
    if not 0 < tail < granularity:
        raise ValueError("tail must be in [1, granularity)")
    amount = price_units - price_units % granularity + tail
    return amount if amount > price_units else amount + granularity


async def expected_amount(
    session: AsyncSession, rt: FlashRuntime, price_units: int, granularity: int
) -> tuple[int, int]:
    """(expected amount, tail) for a new transfer order on ``rt.payment_address``: the tail is
    unique among its open orders (and those still in their grace period), so a payment of any
    amount with that tail finds the order. Raises `NoPaymentTailAvailable` (503) when every
    tail is taken."""
    try:
        tail = choose_tail(await order_service.open_tails(session, rt), granularity)
    except TailsExhausted:
        raise NoPaymentTailAvailable("too many open orders, try again shortly") from None
    return lift_to_tail(price_units, tail, granularity), tail
