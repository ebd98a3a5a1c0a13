"""The order counters hooks (user.totals) on real SQLite and PostgreSQL: one UPDATE per user for
a batch, TRX and USDT kept apart, orders without a user ignored, never below zero."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from package_orders import TRX, build_package_order, new_user
from tronrent.models import User
from tronrent.models.common import Currency
from tronrent.user import totals


async def counters(session: AsyncSession, user: User) -> tuple[int, int, int, int]:
    row = await session.get(User, user.id, populate_existing=True)
    assert row is not None
    return (
        row.total_orders,
        row.total_spent_sun,
        row.total_spent_usdt_units,
        row.total_energy_used,
    )


class TestTotals:
    async def test_a_batch_counts_each_order_once(self, session: AsyncSession) -> None:
        alice, bob = await new_user(session), await new_user(session)
        orders = [
            build_package_order(alice.id, price_units=2 * TRX, energy=65_000),
            build_package_order(alice.id, price_units=3_000_000, currency=Currency.USDT),
            build_package_order(bob.id, price_units=5 * TRX, energy=131_000),
            build_package_order(None, price_units=9 * TRX),  # a walk-in: no user
        ]
        await totals.orders_paid(session, orders)
        assert await counters(session, alice) == (2, 2 * TRX, 3_000_000, 0)
        assert await counters(session, bob) == (1, 5 * TRX, 0, 0)
        await totals.orders_delivered(session, [orders[0], orders[2], orders[3]])
        assert await counters(session, alice) == (2, 2 * TRX, 3_000_000, 65_000)
        assert await counters(session, bob) == (1, 5 * TRX, 0, 131_000)
        await totals.orders_refunded(session, [orders[1]])
        assert await counters(session, alice) == (1, 2 * TRX, 0, 65_000)

    async def test_a_reversal_never_goes_below_zero(self, session: AsyncSession) -> None:
        """An order paid before the counters were kept, refunded after."""
        user = await new_user(session)
        await totals.orders_refunded(session, [build_package_order(user.id, price_units=TRX)])
        assert await counters(session, user) == (0, 0, 0, 0)

    async def test_nothing_to_do(self, session: AsyncSession) -> None:
        await totals.orders_paid(session, [])
        await totals.orders_delivered(session, [build_package_order(None)])
