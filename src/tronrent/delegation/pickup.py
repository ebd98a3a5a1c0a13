"""Orders paid from the balance are picked up and delegated in batches, several times a block.

A balance payment (`payment.balance_pay`) only marks the order paid, in its own short
transaction, wherever it runs (an API worker, the bot): it sends no job. The process that holds
the scanner's lease runs `BalancePickup`: every ``1/PICKUPS_PER_BLOCK`` of a block it reads the
paid, not yet delegated balance orders (one indexed SELECT) and delegates them as batches of at
most ``MAX_PICKUP`` through the same flow as a block's flash payments (`delegate_orders`:
prepare - lock, plan, sign, store, commit - then broadcast), so an order paid anywhere in a
block is on chain in the next one, and the delegation side costs a batch per turn whatever the
rate of payments.

Exactly once is the flows' (the order row lock, the stored transaction per order); the pickup
only decides when. An order the pickup handed over that is still paid afterwards (no pool
capacity: the flow queues its own job, which retries with a delay) is not taken again by this
process for ``STUCK_AFTER_S``; the sweeper re-drives whatever stays paid longer, and a process
killed mid-batch leaves paid or delegating orders that the next start-up sweep re-drives. A
batch that fails is handed to the job queue (one job per order; a `Retry` as one job with the
batch) - the pickup itself never stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.db import transaction_scope
from tronrent.models.order import Order, OrderStatus
from tronrent.payment.balance_pay import BALANCE
from tronrent.worker import Retry, enqueue_job, job_scope

log = logging.getLogger("tronrent.delegation")

#: pickups per block interval (3 s blocks: every 250 ms): an order paid in the last ~1/12 of a
#: block plus a batch's time may miss the next block (p99 2 blocks)
PICKUPS_PER_BLOCK: Final = 12
#: on SQLite (one writer; every transaction there begins IMMEDIATE, reads included) the pickup
#: runs twice a block, so its SELECT does not contend for the write lock 12 times a block
SQLITE_PICKUPS_PER_BLOCK: Final = 2
#: orders per batch (a block's worth at 66 orders/s; larger rounds run as several batches)
MAX_PICKUP: Final = 200
#: batches of one round run at once (the delegation flows' concurrency, `Coalescer` slots)
PICKUP_BATCHES: Final = 2
DELEGATE_JOB: Final = "delegation.delegate_order"


async def paid_balance_orders(
    session: AsyncSession, limit: int, skip: Sequence[str] = ()
) -> list[str]:
    """Ids of orders paid from the balance and not delegated yet (status paid), oldest id
    first, without those in ``skip``."""
    stmt = (
        select(Order.id)
        .where(Order.status == OrderStatus.PAID, Order.payment_method == BALANCE)
        .order_by(Order.id)
        .limit(limit + len(skip))
    )
    ids = (await session.execute(stmt)).scalars().all()
    skipped = set(skip)
    return [x for x in ids if x not in skipped][:limit]


Delegate = Callable[[list[str]], Awaitable[object]]


@dataclass
class BalancePickup:
    """The loop (see the module docstring); ``delegate`` runs one batch (the delegation flow),
    ``active`` says whether this process is the one to pick up (it holds the scanner lease)."""

    session_maker: async_sessionmaker[AsyncSession]
    delegate: Delegate
    block_interval_s: float
    active: Callable[[], bool] = lambda: True
    stuck_after_s: float = 20.0
    pickups_per_block: int = PICKUPS_PER_BLOCK
    #: order id -> when it was handed over and came back still paid (monotonic s)
    _handed: dict[str, float] = field(default_factory=dict)

    @property
    def interval_s(self) -> float:
        return max(0.02, self.block_interval_s / self.pickups_per_block)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            taken = 0
            if self.active():
                try:
                    taken = await self.pick_up()
                except Exception:  # the database away: the next turn tries again
                    log.exception("balance pickup failed; retrying")
            if taken >= MAX_PICKUP * PICKUP_BATCHES:
                continue  # a backlog: the next round at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)

    async def pick_up(self) -> int:
        """One round: the waiting orders delegated, in batches run at once; the number taken."""
        now = time.monotonic()
        self._handed = {k: t for k, t in self._handed.items() if now - t < self.stuck_after_s}
        async with self.session_maker() as s:
            ids = await paid_balance_orders(s, MAX_PICKUP * PICKUP_BATCHES, list(self._handed))
        if not ids:
            return 0
        batches = [ids[i : i + MAX_PICKUP] for i in range(0, len(ids), MAX_PICKUP)]
        await asyncio.gather(*(self._batch(b) for b in batches))
        async with self.session_maker() as s:  # any still paid: a job of their own has them
            still = set(await paid_balance_orders(s, len(ids))) & set(ids)
        self._handed.update(dict.fromkeys(still, time.monotonic()))
        return len(ids)

    async def _batch(self, ids: list[str]) -> None:
        async with job_scope():
            try:
                await self.delegate(ids)
                return
            except Retry as retry:
                # not broadcast yet (a node down), or no pool capacity: the queue retries
                log.info("balance pickup of %d order(s) goes on as a job: %s", len(ids), retry)
                jobs = [ids]
            except Exception:
                # one job per order: a poison order holds back no other (`split_on_failure`)
                log.exception("balance pickup of %d order(s) failed; one job each", len(ids))
                jobs = [[x] for x in ids]
            async with transaction_scope(self.session_maker):  # the jobs go out on commit
                for job in jobs:
                    enqueue_job(DELEGATE_JOB, *job)
