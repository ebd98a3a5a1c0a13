"""Orders paid from the balance are picked up as soon as they commit and delegated in batches.

A balance payment (`payment.balance_pay`) only marks the order paid, in its own short
transaction, wherever it runs (an API worker, the bot): it sends no job. The process that holds
the scanner's lease runs `BalancePickup`, woken by every commit of such a payment: on
PostgreSQL by ``NOTIFY tronrent_balance_paid`` (a trigger on ``orders``, migration
0034_balance_paid_notify; `storage.notify` listens, so payments of any process wake it), in
its own process also by the payment's commit (``balance_paid.paid_listeners``; SQLite has no
NOTIFY). Woken, it reads the paid, not yet delegated balance orders (one indexed SELECT, at
most one per ``min_gap_s``: the payments of those milliseconds come together) and hands them
to the delegation flow as rounds it does not wait for (`delegate_orders`, the same flow as a
block's flash payments: prepare - lock, plan, sign, store, commit - then broadcast). The
flow's `Coalescer` merges rounds that wait for a slot into one batch, so under load the
batches grow instead of queueing, and an order paid anywhere in a block is on chain in the
next one unless it commits in the last moments before it. A timer reads the orders a few
times a block as well (``pickups_per_block``): a notification lost while the listener was
reconnecting delays an order by at most that.

Exactly once is the flows' (the order row lock, the stored transaction per order); the pickup
only decides when, and never hands over an order it has in flight. An order the pickup handed
over that is still paid afterwards (no pool capacity: the flow queues its own job, which
retries with a delay) is not taken again by this process for ``STUCK_AFTER_S``; the sweeper
re-drives whatever stays paid longer, and a process killed mid-batch leaves paid or
delegating orders that the next start-up sweep re-drives. A batch that fails is handed to the
job queue (one job per order; a `Retry` as one job with the batch) - the pickup itself never
stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.db import transaction_scope
from tronrent.models.order import Order, OrderStatus
from tronrent.payment.balance_pay import BALANCE, paid_listeners
from tronrent.worker import Retry, enqueue_job, job_scope

log = logging.getLogger("tronrent.delegation")

#: timed reads per block interval besides the wake-ups (3 s blocks: every 750 ms): what a
#: notification lost while the listener reconnected waits for at most
PICKUPS_PER_BLOCK: Final = 4
#: on SQLite (one writer; every transaction there begins IMMEDIATE, reads included) the timer
#: runs twice a block, so its SELECT does not contend for the write lock more often
SQLITE_PICKUPS_PER_BLOCK: Final = 2
#: the least time between two reads (s) in the last ``URGENT_SHARE`` of a block interval: the
#: payments committed meanwhile come in one read
MIN_GAP_S: Final = 0.03
#: the share of a block interval before the next block in which the pickup reads at once
#: (``MIN_GAP_S``); earlier in the interval a payment has time, so the reads come at most
#: ``RELAXED_READS_PER_BLOCK`` times a block and carry larger batches (less CPU per order)
URGENT_SHARE: Final = 0.3
RELAXED_READS_PER_BLOCK: Final = 12
#: the same on SQLite: its reads contend with the payments for the one write lock
SQLITE_MIN_GAP_S: Final = 0.25
#: how long an order whose round ended is remembered (s): the next read (a round's end wakes
#: the loop) sees it still paid if the flow left it so
DONE_MEMORY_S: Final = 10.0
#: orders per batch (a block's worth at 66 orders/s; larger rounds run as several batches)
MAX_PICKUP: Final = 200
#: batches of one read; also the orders in flight at most (``MAX_PICKUP * PICKUP_BATCHES``)
PICKUP_BATCHES: Final = 2
DELEGATE_JOB: Final = "delegation.delegate_order"
#: what the trigger of migration 0034_balance_paid_notify notifies on a balance payment
BALANCE_PAID_CHANNEL: Final = "tronrent_balance_paid"


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
#: ``listen(wake, stop)``: calls ``wake()`` on every notification until ``stop`` is set
Listen = Callable[[Callable[[], None], asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class BalancePickup:
    """The loop (see the module docstring); ``delegate`` runs one batch (the delegation flow),
    ``active`` says whether this process is the one to pick up (it holds the scanner lease),
    ``listen`` hears the database's notifications (none: the commits of this process and the
    timer only)."""

    session_maker: async_sessionmaker[AsyncSession]
    delegate: Delegate
    block_interval_s: float
    active: Callable[[], bool] = lambda: True
    stuck_after_s: float = 20.0
    pickups_per_block: int = PICKUPS_PER_BLOCK
    min_gap_s: float = MIN_GAP_S
    listen: Listen | None = None
    #: seconds until the next block is due (None: not known; every read is urgent)
    next_block_in: Callable[[], float | None] = lambda: None
    #: order id -> when it was handed over and came back still paid (monotonic s)
    _handed: dict[str, float] = field(default_factory=dict)
    #: orders handed over whose round has not ended
    _in_flight: set[str] = field(default_factory=set)
    #: order id -> when its round ended (monotonic s): read again still paid, it is handed
    _done: dict[str, float] = field(default_factory=dict)
    _rounds: set[asyncio.Task[None]] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def interval_s(self) -> float:
        return max(0.02, self.block_interval_s / self.pickups_per_block)

    def wake(self) -> None:
        """Read the paid orders now (on the event loop's thread: a commit, a notification)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._wake = asyncio.Event()
        paid_listeners.add(self.wake)
        helpers = [asyncio.create_task(self._wake_on(stop), name="flash-balance-pickup-stop")]
        if self.listen is not None:
            helpers.append(
                asyncio.create_task(self.listen(self.wake, stop), name="flash-balance-listen")
            )
        try:
            await self._loop(stop)
        finally:
            paid_listeners.discard(self.wake)
            await asyncio.gather(*self._rounds, *helpers, return_exceptions=True)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.wake()

    async def _loop(self, stop: asyncio.Event) -> None:
        last = float("-inf")
        while not stop.is_set():
            pause = last + self._gap() - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            self._wake.clear()
            last = time.monotonic()
            taken = 0
            if self.active():
                try:
                    taken = len(await self._take())
                except Exception:  # the database away: the next turn tries again
                    log.exception("balance pickup failed; retrying")
            if taken >= MAX_PICKUP * PICKUP_BATCHES:
                continue  # a backlog: the next read at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)

    def _gap(self) -> float:
        """The least time between the last read and the next (s): ``min_gap_s`` close to the
        next block, longer before - but never past the start of that last stretch."""
        left = self.next_block_in()
        urgent = URGENT_SHARE * self.block_interval_s
        if left is None or left <= urgent:
            return self.min_gap_s
        relaxed = self.block_interval_s / RELAXED_READS_PER_BLOCK
        return max(self.min_gap_s, min(relaxed, left - urgent))

    async def pick_up(self) -> int:
        """One read and its rounds, waited for; the number of orders taken."""
        rounds = await self._take()
        await asyncio.gather(*rounds)
        return sum(len(ids) for ids in rounds.values())

    async def _take(self) -> dict[asyncio.Task[None], list[str]]:
        """Read the waiting orders and start their rounds (in batches of ``MAX_PICKUP``, no
        more than ``MAX_PICKUP * PICKUP_BATCHES`` in flight); the rounds started."""
        room = MAX_PICKUP * PICKUP_BATCHES - len(self._in_flight)
        if room <= 0:
            return {}  # a round ending wakes the loop
        now = time.monotonic()
        self._handed = {k: t for k, t in self._handed.items() if now - t < self.stuck_after_s}
        self._done = {k: t for k, t in self._done.items() if now - t < DONE_MEMORY_S}
        async with self.session_maker() as s:
            read = await paid_balance_orders(s, room, [*self._handed, *self._in_flight])
        # handed over before and still paid: the flow gave them a job of their own
        ids = [x for x in read if x not in self._done]
        self._handed.update((x, now) for x in read if x in self._done)
        self._in_flight.update(ids)
        rounds = {}
        for i in range(0, len(ids), MAX_PICKUP):
            batch = ids[i : i + MAX_PICKUP]
            task = asyncio.create_task(self._round(batch), name="flash-balance-pickup-round")
            self._rounds.add(task)
            task.add_done_callback(self._rounds.discard)
            rounds[task] = batch
        return rounds

    async def _round(self, ids: list[str]) -> None:
        """One batch delegated (a failure goes to the job queue, see `_batch`)."""
        try:
            await self._batch(ids)
        except Exception:  # its jobs not queued (the database away): taken after stuck_after_s
            log.exception("balance pickup round of %d order(s) failed", len(ids))
        finally:
            self._done.update(dict.fromkeys(ids, time.monotonic()))
            self._in_flight.difference_update(ids)
            self.wake()  # room again for a backlog; those still paid are seen and left

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
