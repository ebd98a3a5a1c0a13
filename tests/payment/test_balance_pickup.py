"""The engine's pickup of orders paid from the balance (`delegation.pickup`), on SQLite and
PostgreSQL, with the delegation flow replaced by a recorder: which orders it takes, in which
batches, what it leaves to the job queue. End to end (the real flow on the devnet, the next
block): tests/flash/test_balance_orders.py."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from package_orders import TRX, insert_package_order, new_user
from tronrent.delegation.pickup import (
    BALANCE_PAID_CHANNEL,
    DELEGATE_JOB,
    MAX_PICKUP,
    MIN_GAP_S,
    PICKUP_BATCHES,
    RELAXED_READS_PER_BLOCK,
    URGENT_SHARE,
    BalancePickup,
    paid_balance_orders,
)
from tronrent.kit.db import transaction_scope
from tronrent.models.order import Order, OrderStatus
from tronrent.payment.balance_pay import BALANCE, pay_from_balance
from tronrent.storage import notify
from tronrent.worker import PendingJob, Retry, job_scope


@dataclass
class Recorder:
    """A stand-in for the delegation flow: records each batch; ``delegate`` marks them
    delegating (as the flow's prepare does), ``fail`` raises instead."""

    session_maker: async_sessionmaker[AsyncSession]
    batches: list[list[str]] = field(default_factory=list)
    delegate: bool = True
    fail: BaseException | None = None

    async def __call__(self, ids: list[str]) -> None:
        self.batches.append(list(ids))
        if self.fail is not None:
            raise self.fail
        if self.delegate:
            async with transaction_scope(self.session_maker) as s:
                await s.execute(
                    update(Order).where(Order.id.in_(ids)).values(status=OrderStatus.DELEGATING)
                )


async def paid_orders(session_maker: async_sessionmaker[AsyncSession], n: int) -> list[str]:
    """``n`` orders paid from one user's balance (sorted ids)."""
    async with transaction_scope(session_maker) as s:
        user = await new_user(s, trx_sun=n * 2 * TRX)
        orders = [
            await insert_package_order(s, user, price_units=2 * TRX, watch=False) for _ in range(n)
        ]
    async with job_scope(), transaction_scope(session_maker) as s:
        for o in orders:
            await pay_from_balance(s, o.id)
    return sorted(o.id for o in orders)


def pickup(
    session_maker: async_sessionmaker[AsyncSession], recorder: Recorder, **kw: object
) -> BalancePickup:
    return BalancePickup(session_maker, recorder, block_interval_s=0.6, **kw)  # type: ignore[arg-type]


class TestPickUp:
    async def test_takes_paid_balance_orders_only(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        paid = await paid_orders(session_maker, 3)
        async with transaction_scope(session_maker) as s:
            user = await new_user(s, trx_sun=10 * TRX)
            pending = await insert_package_order(s, user, watch=False)
            by_transfer = await insert_package_order(s, user, watch=False)
            by_transfer.status = OrderStatus.PAID  # paid on chain: its own job has it
        rec = Recorder(session_maker)
        p = pickup(session_maker, rec)
        assert await p.pick_up() == 3
        assert rec.batches == [paid]
        assert await p.pick_up() == 0  # delegating now: not taken again
        async with session_maker() as s:
            assert await paid_balance_orders(s, 10) == []
            assert (await s.get(Order, pending.id)).status is OrderStatus.PENDING  # type: ignore[union-attr]

    async def test_a_backlog_goes_in_batches_at_once(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        n = MAX_PICKUP * PICKUP_BATCHES + 5
        paid = await paid_orders(session_maker, n)
        rec = Recorder(session_maker)
        p = pickup(session_maker, rec)
        assert await p.pick_up() == MAX_PICKUP * PICKUP_BATCHES
        assert [len(b) for b in rec.batches] == [MAX_PICKUP] * PICKUP_BATCHES
        assert await p.pick_up() == 5
        assert sorted(x for b in rec.batches for x in b) == paid  # each order once

    async def test_an_order_left_paid_is_not_taken_again(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """No pool capacity: the flow moves it back to paid and queues a job of its own; the
        pickup leaves it to that job (and the sweeper) for ``stuck_after_s``."""
        paid = await paid_orders(session_maker, 2)
        rec = Recorder(session_maker, delegate=False)
        p = pickup(session_maker, rec, stuck_after_s=3600.0)
        assert await p.pick_up() == 2
        assert await p.pick_up() == 0
        assert rec.batches == [paid]
        late = await paid_orders(session_maker, 1)
        assert await p.pick_up() == 1 and rec.batches[-1] == late
        forgetful = pickup(session_maker, rec, stuck_after_s=0.0)
        assert await forgetful.pick_up() == 3  # after stuck_after_s: taken again

    async def test_a_failing_batch_becomes_one_job_per_order(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        paid = await paid_orders(session_maker, 3)
        sent: list[PendingJob] = []

        async def send(job: PendingJob) -> None:
            sent.append(job)

        rec = Recorder(session_maker, fail=RuntimeError("boom"))
        async with job_scope(send):
            assert await pickup(session_maker, rec).pick_up() == 3
        assert sent == [PendingJob(DELEGATE_JOB, (x,)) for x in paid]

    async def test_a_retry_becomes_one_job_with_the_batch(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        paid = await paid_orders(session_maker, 2)
        sent: list[PendingJob] = []

        async def send(job: PendingJob) -> None:
            sent.append(job)

        rec = Recorder(session_maker, fail=Retry("node down"))
        async with job_scope(send):
            await pickup(session_maker, rec).pick_up()
        assert sent == [PendingJob(DELEGATE_JOB, tuple(paid))]


class TestLoop:
    async def test_runs_only_while_active_and_stops(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        paid = await paid_orders(session_maker, 2)
        rec = Recorder(session_maker)
        leader = asyncio.Event()
        p = pickup(session_maker, rec, active=leader.is_set)
        stop = asyncio.Event()
        loop = asyncio.create_task(p.run(stop))
        await asyncio.sleep(p.interval_s * 3)
        assert rec.batches == []  # not the scanner's leader: nothing taken
        leader.set()
        for _ in range(200):
            if rec.batches:
                break
            await asyncio.sleep(p.interval_s)
        stop.set()
        await asyncio.wait_for(loop, timeout=5)
        assert rec.batches == [paid]


async def taken_within(rec: Recorder, n: int, seconds: float = 20.0) -> list[str]:
    """The ids of the first ``n`` orders the recorder got, waiting up to ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        taken = [x for b in rec.batches for x in b]
        if len(taken) >= n:
            return sorted(taken)
        await asyncio.sleep(0.05)
    raise AssertionError(f"not taken: {rec.batches}")


async def running(p: BalancePickup, body: Callable[[], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.create_task(p.run(stop))
    try:
        await asyncio.sleep(0.2)  # its first read (nothing yet), then the wait
        await body()
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=10)


class TestWakeUp:
    """The timer reads once an hour here (a block of 14,400 s / 4): only a wake-up explains an
    order taken within seconds."""

    async def test_a_payment_committed_in_this_process_wakes_it(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        rec = Recorder(session_maker)
        p = BalancePickup(session_maker, rec, block_interval_s=14_400.0)

        async def pay() -> None:
            paid = await paid_orders(session_maker, 2)
            assert await taken_within(rec, 2) == paid

        await running(p, pay)

    @pytest.mark.postgres
    async def test_a_payment_of_another_process_wakes_it_by_notify(
        self, engine: AsyncEngine, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """Marked paid by a bare UPDATE (no commit hook of this process): the trigger's NOTIFY
        on commit is the only wake-up (without the listener this test fails); a rolled-back
        payment sends none."""
        async with transaction_scope(session_maker) as s:
            user = await new_user(s, trx_sun=10 * TRX)
            orders = [await insert_package_order(s, user, watch=False) for _ in range(2)]
        rec = Recorder(session_maker)
        p = BalancePickup(
            session_maker,
            rec,
            block_interval_s=14_400.0,
            listen=functools.partial(notify.listen, engine, BALANCE_PAID_CHANNEL),
        )

        def mark_paid(order: Order) -> object:
            return (
                update(Order)
                .where(Order.id == order.id)
                .values(status=OrderStatus.PAID, payment_method=BALANCE)
            )

        async def pay() -> None:
            await asyncio.sleep(1.0)  # the listener connected
            async with session_maker() as s:
                await s.execute(mark_paid(orders[0]))  # type: ignore[call-overload]
                await s.rollback()
            async with transaction_scope(session_maker) as s:
                await s.execute(mark_paid(orders[1]))  # type: ignore[call-overload]
            assert await taken_within(rec, 1) == [orders[1].id]

        await running(p, pay)


class TestGap:
    """When the loop reads next: at once close to the block, spaced out before it, never past
    the start of the last stretch."""

    @given(
        interval=st.floats(min_value=0.1, max_value=10.0),
        share=st.floats(min_value=0.0, max_value=1.0),
        known=st.booleans(),
    )
    def test_gap(self, interval: float, share: float, known: bool) -> None:
        left = share * interval if known else None
        p = BalancePickup(
            None,  # type: ignore[arg-type]
            Recorder(None),  # type: ignore[arg-type]
            block_interval_s=interval,
            next_block_in=lambda: left,
        )
        gap = p._gap()
        urgent = URGENT_SHARE * interval
        assert MIN_GAP_S <= gap <= max(MIN_GAP_S, interval / RELAXED_READS_PER_BLOCK)
        if left is None or left <= urgent:
            assert gap == MIN_GAP_S
        else:
            assert gap <= max(MIN_GAP_S, left - urgent)
