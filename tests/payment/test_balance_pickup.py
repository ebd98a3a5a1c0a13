"""The engine's pickup of orders paid from the balance (`delegation.pickup`), on SQLite and
PostgreSQL, with the delegation flow replaced by a recorder: which orders it takes, in which
batches, what it leaves to the job queue. End to end (the real flow on the devnet, the next
block): tests/flash/test_balance_orders.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from package_orders import TRX, insert_package_order, new_user
from tronrent.delegation.pickup import (
    DELEGATE_JOB,
    MAX_PICKUP,
    PICKUP_BATCHES,
    BalancePickup,
    paid_balance_orders,
)
from tronrent.kit.db import transaction_scope
from tronrent.models.order import Order, OrderStatus
from tronrent.payment.balance_pay import pay_from_balance
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
