"""Payments meant for an order whose window has closed: its tail is not drawn again while a
payment may still come for it, an exact amount beats a newer order's tail, and whether a
payment is late is judged by when it was made (its block's time), not by when the scanner got
to it (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_batch import PRICE, AddressBook, World, add_order, add_payments, new_address, run_batch

from tronrent.kit.time import utcnow
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service


async def outcome(
    session_maker: async_sessionmaker[AsyncSession], w: World, label: str
) -> tuple[PaymentStatus, str | None]:
    """The payment's status and the label of the order it was matched to (None: no order of
    the world)."""
    async with session_maker() as s:
        payment = (
            await s.execute(select(Payment).where(Payment.id == w.payments[label]))
        ).scalar_one()
    labels = {o.id: name for name, o in w.orders.items()}
    return payment.status, labels.get(payment.order_id or "")


async def status_of(session_maker: async_sessionmaker[AsyncSession], order: Order) -> OrderStatus:
    async with session_maker() as s:
        found = await s.get(Order, order.id)
        assert found is not None
        return found.status


class TestTailsOfClosedOrders:
    async def test_not_drawn_again_within_the_grace(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        a = AddressBook()
        w = World(FlashRuntime(payment_address=new_address(), late_payment_grace_s=600))
        async with session_maker() as s:
            await add_order(s, w, "open", a["open"], tail=101)
            await add_order(s, w, "in_grace", a["in_grace"], tail=202, expired_ago_s=300)
            await add_order(s, w, "past_grace", a["past_grace"], tail=303, expired_ago_s=900)
            await s.commit()
            # a payment of the order closed 5 minutes ago is still honoured: a new order with
            # its tail would take it; the one closed 15 minutes ago takes no payment by tail
            assert await order_service.open_tails(s, w.rt) == {101, 202}

    async def test_a_new_order_never_gets_a_tail_in_its_grace(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        a = AddressBook()
        w = World(FlashRuntime(payment_address=new_address(), tail_granularity_sun=4))
        async with session_maker() as s:
            await add_order(s, w, "in_grace", a["in_grace"], tail=1, expired_ago_s=60)
            await add_order(s, w, "open", a["open"], tail=2)
            await s.commit()
            # tails 1..3 with a granularity of 4: the only one left is 3
            for _ in range(5):
                order, _ = await order_service.create_order(
                    s, w.rt, recipient_address=a["new"], chat_id=7
                )
                assert order.amount_tail_units == 3
                await s.rollback()


class TestExactAmountFirst:
    async def test_a_late_payment_is_not_taken_by_a_newer_order_with_its_tail(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """An order closed past the grace, its tail drawn again by a newer order (allowed once
        the grace is over): the late payment of its exact amount is the old order's (refunded
        to its sender), not the newer order's by tail."""
        a = AddressBook()
        w = World(FlashRuntime(payment_address=new_address()))
        async with session_maker() as s:
            old = await add_order(s, w, "old", a["old"], tail=303, expired_ago_s=3_600)
            new = await add_order(s, w, "new", a["new"], tail=303)
            new.expected_amount_units = 2 * PRICE + 303  # two transactions, the same tail
            await add_payments(
                s,
                w,
                [
                    ("old_exact", a["exchange"], PRICE + 303),
                    ("new_exact", a["wallet"], 2 * PRICE + 303),
                ],
            )
            await s.commit()
        await run_batch(session_maker, w.rt, [w.payments["old_exact"]])
        assert await outcome(session_maker, w, "old_exact") == (PaymentStatus.REFUNDING, "old")
        assert await status_of(session_maker, old) is OrderStatus.EXPIRED
        assert await status_of(session_maker, new) is OrderStatus.PENDING
        await run_batch(session_maker, w.rt, [w.payments["new_exact"]])
        assert await outcome(session_maker, w, "new_exact") == (PaymentStatus.MATCHED, "new")
        assert await status_of(session_maker, new) is OrderStatus.PAID

    async def test_within_the_grace_the_exact_amount_wins_and_is_served(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """Two orders with one tail (an open one created before tails in their grace were kept
        apart): the exact amount of the closed one, within its grace, pays it, not the open
        one by tail."""
        a = AddressBook()
        w = World(FlashRuntime(payment_address=new_address()))
        async with session_maker() as s:
            closed = await add_order(s, w, "closed", a["closed"], tail=404, expired_ago_s=60)
            open_ = await add_order(s, w, "open", a["open"], tail=404)
            open_.expected_amount_units = 3 * PRICE + 404
            await add_payments(s, w, [("exact", a["exchange"], PRICE + 404)])
            await s.commit()
        await run_batch(session_maker, w.rt, [w.payments["exact"]])
        assert await outcome(session_maker, w, "exact") == (PaymentStatus.MATCHED, "closed")
        assert await status_of(session_maker, closed) is OrderStatus.PAID
        assert await status_of(session_maker, open_) is OrderStatus.PENDING

    async def test_a_tail_match_still_pays_when_no_amount_is_exact(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        a = AddressBook()
        w = World(FlashRuntime(payment_address=new_address()))
        async with session_maker() as s:
            await add_order(s, w, "old", a["old"], tail=505, expired_ago_s=3_600)
            await add_order(s, w, "open", a["open"], tail=505)
            await add_payments(s, w, [("by_tail", a["exchange"], 2 * PRICE + 505)])
            await s.commit()
        await run_batch(session_maker, w.rt, [w.payments["by_tail"]])
        assert await outcome(session_maker, w, "by_tail") == (PaymentStatus.MATCHED, "open")


class TestJudgedWhenMade:
    async def test_paid_in_time_and_seen_after_downtime_is_served(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """The scanner was down for an hour: a payment made 5 minutes before the order's window
        closed is processed 30 minutes after it closed (past the 10 minute grace by the wall
        clock) and is served; one made 15 minutes after it closed is a late payment."""
        a = AddressBook()
        w = World(FlashRuntime(payment_address=new_address(), late_payment_grace_s=600))
        async with session_maker() as s:
            on_time = await add_order(s, w, "on_time", a["on_time"], tail=606, expired_ago_s=1_800)
            late = await add_order(s, w, "late", a["late"], tail=707, expired_ago_s=1_800)
            await add_payments(
                s,
                w,
                [
                    ("in_time", a["exchange"], PRICE + 606),
                    ("too_late", a["exchange"], PRICE + 707),
                ],
            )
            made = {
                "in_time": utcnow() - timedelta(minutes=35),
                "too_late": utcnow() - timedelta(minutes=15),
            }
            for label, when in made.items():
                await s.execute(
                    update(Payment)
                    .where(Payment.id == w.payments[label])
                    .values(block_timestamp=when)
                )
            await s.commit()
        await run_batch(session_maker, w.rt, [w.payments["in_time"], w.payments["too_late"]])
        assert await outcome(session_maker, w, "in_time") == (PaymentStatus.MATCHED, "on_time")
        assert await status_of(session_maker, on_time) is OrderStatus.PAID
        assert await outcome(session_maker, w, "too_late") == (PaymentStatus.REFUNDING, "late")
        assert await status_of(session_maker, late) is OrderStatus.EXPIRED

    async def test_a_block_time_ahead_of_our_clock_counts_as_now(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """A node whose clock runs ahead cannot push a payment out of its grace."""
        a = AddressBook()
        w = World(FlashRuntime(payment_address=new_address(), late_payment_grace_s=600))
        async with session_maker() as s:
            await add_order(s, w, "closed", a["closed"], tail=808, expired_ago_s=300)
            await add_payments(s, w, [("exact", a["exchange"], PRICE + 808)])
            await s.execute(
                update(Payment)
                .where(Payment.id == w.payments["exact"])
                .values(block_timestamp=utcnow() + timedelta(hours=1))
            )
            await s.commit()
        await run_batch(session_maker, w.rt, [w.payments["exact"]])
        assert await outcome(session_maker, w, "exact") == (PaymentStatus.MATCHED, "closed")
