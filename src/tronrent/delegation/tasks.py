"""Delegation jobs and the periodic sweeper that finishes whatever a lost job left behind."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tronrent.delegation import limbo
from tronrent.delegation.deps import flow_deps
from tronrent.delegation.flows import delegation
from tronrent.delegation.pickup import (
    BALANCE_PAID_CHANNEL,
    MIN_GAP_S,
    PICKUPS_PER_BLOCK,
    SQLITE_MIN_GAP_S,
    SQLITE_PICKUPS_PER_BLOCK,
    BalancePickup,
)
from tronrent.kit.metrics import ORDERS_IN_LIMBO, ORDERS_OLDEST_UNPROCESSED_AGE
from tronrent.kit.time import from_ms, utcnow
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.order.service import order as order_service
from tronrent.order.service import time_out_watches
from tronrent.storage import notify
from tronrent.worker import Coalescer, Priority, actor, enqueue_job, split_on_failure

log = logging.getLogger("tronrent.delegation")

#: an order untouched this long in paid/delegating is re-driven by the sweeper
STUCK_AFTER_S = 20.0
RECLAIM_JOB = "delegation.reclaim_order"
SWEEP_JOB = "delegation.sweep"
#: orders per reclaim job (a block's worth at the target load)
RECLAIM_BATCH = 200
#: orders per merged delegation batch (a block's worth at the target load)
MAX_DELEGATION_BATCH = 200
#: due reclaims enqueued per sweep (every 5 s): twice what 200 rentals ending per second need,
#: so a backlog drains
RECLAIMS_PER_SWEEP = 2000


#: delegation jobs running at once in this process are merged into shared batches: orders
#: paid one at a time (from the balance) are delegated a batch per slot turn, like a block's
#: payments, instead of one flow run each (the flows cost a few statements per batch)
_delegations = Coalescer(slots=2, max_ids=MAX_DELEGATION_BATCH)
#: the balance pickup's batches have slots of their own: right after a block the scanner's
#: confirmations of its delegations (jobs, above) take a few hundred milliseconds, and a
#: payment committed meanwhile must not wait for them to make the next block
_picked_up = Coalescer(slots=2, max_ids=MAX_DELEGATION_BATCH)


@actor("delegation.delegate_order", priority=Priority.HIGH, max_retries=8, max_backoff_s=10)
async def delegate_order(*order_ids: str) -> None:
    """One order, or a batch (the orders paid, or confirmed, in one scanned block); merged
    with the delegation jobs running at the same time (`Coalescer`)."""
    d = flow_deps()

    async def delegate(ids: list[str]) -> None:
        await delegation.delegate_orders(d, ids)

    await _delegations.run([str(x) for x in order_ids], delegate)


def balance_pickup(
    active: Callable[[], bool], next_block_in: Callable[[], float | None] = lambda: None
) -> BalancePickup:
    """The pickup of orders paid from the balance (`delegation.pickup`) for this process's
    worker context; its batches merge while they wait for a slot (`Coalescer`)."""
    d = flow_deps()

    async def delegate(ids: list[str]) -> None:
        async def batch(merged: list[str]) -> None:
            await delegation.delegate_orders(d, merged)

        await _picked_up.run(ids, batch)

    bind = d.session_maker.kw.get("bind")
    sqlite = bind is not None and bind.dialect.name == "sqlite"
    listen = None
    if isinstance(bind, AsyncEngine) and notify.supports_listen(bind):
        listen = functools.partial(notify.listen, bind, BALANCE_PAID_CHANNEL)
    return BalancePickup(
        d.session_maker,
        delegate,
        d.rt.block_interval_ms / 1000,
        active=active,
        stuck_after_s=STUCK_AFTER_S,
        pickups_per_block=SQLITE_PICKUPS_PER_BLOCK if sqlite else PICKUPS_PER_BLOCK,
        min_gap_s=SQLITE_MIN_GAP_S if sqlite else MIN_GAP_S,
        listen=listen,
        next_block_in=next_block_in,
    )


@actor(RECLAIM_JOB, priority=Priority.MEDIUM, max_retries=8, max_backoff_s=30)
async def reclaim_order(*order_ids: str) -> None:
    """One order, or a batch (the sweeper's due reclaims, the undelegations confirmed in one
    scanned block); a failing batch is split into one job per order (`split_on_failure`)."""
    d = flow_deps()
    ids = [str(x) for x in order_ids]

    async def reclaim() -> None:
        await delegation.reclaim_orders(d, ids)

    await split_on_failure(RECLAIM_JOB, ids, reclaim, d.session_maker)


@actor(SWEEP_JOB, priority=Priority.LOW, max_retries=0, period_s=5.0)
async def sweep(left_before_ms: int | None = None) -> None:
    """Re-drive stuck orders, overdue reclaims, unhandled payments, refunds; expire orders
    and payment watches past their own deadline. ``left_before_ms`` (epoch ms; the engine's
    start-up sweep passes its start time): whatever was last touched before then is re-driven
    at once, not STUCK_AFTER_S later - the work a killed process left (paid but not
    delegated, stored but not broadcast), while work this process started is left alone."""
    d = flow_deps()
    now = utcnow()
    stuck_before = now - timedelta(seconds=max(STUCK_AFTER_S, d.rt.confirm_timeout_s))
    if left_before_ms is not None:
        stuck_before = max(stuck_before, from_ms(int(left_before_ms)))
    async with d.session_maker() as s:
        expired = await order_service.expire_overdue(s)
        watches = await time_out_watches(s)
        stuck = (
            (
                await s.execute(
                    select(Order.id)
                    .where(
                        Order.status.in_((OrderStatus.PAID, OrderStatus.DELEGATING)),
                        Order.updated_at < stuck_before,
                    )
                    # locked in id order, those a delegation batch holds skipped (it is on
                    # them): touching them in any order deadlocked with the batches, which
                    # lock in id order, once a backlog made many orders look stuck
                    .order_by(Order.id)
                    .limit(200)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        # rentals over; and undelegations stored or broadcast but not seen in a block by the
        # scanner for a while (a crash between store and broadcast, a lost job): the job looks
        # those up at most once per confirm_timeout_s (see _deliver_undelegations). Whatever
        # the order's status: a delivered part of an order that failed (or waits for the rest)
        # is reclaimed when due too, its order left as it is (see _begin_reclaim). No join:
        # the delegations' own indexes (status, expires_at) find them
        stale_reclaim = and_(
            EnergyDelegation.status == DelegationStatus.RECLAIMING,
            EnergyDelegation.updated_at < stuck_before,
        )
        due = (
            (
                await s.execute(
                    select(EnergyDelegation.order_id)
                    .where(
                        or_(EnergyDelegation.status == DelegationStatus.SUCCESS, stale_reclaim),
                        EnergyDelegation.expires_at <= now,
                    )
                    .distinct()
                    .limit(RECLAIMS_PER_SWEEP)
                )
            )
            .scalars()
            .all()
        )
        unhandled = (
            (
                await s.execute(
                    select(Payment.id)
                    .where(
                        Payment.handled_at.is_(None),
                        Payment.status == PaymentStatus.RECEIVED,
                        Payment.updated_at < stuck_before,
                    )
                    .limit(200)
                )
            )
            .scalars()
            .all()
        )
        refunds = (
            (
                await s.execute(
                    select(Payment.id)
                    .where(
                        Payment.status == PaymentStatus.REFUNDING,
                        Payment.updated_at < stuck_before,
                    )
                    .limit(200)
                )
            )
            .scalars()
            .all()
        )
        # touched as they are re-driven: the next sweeps leave them to this job for another
        # STUCK_AFTER_S instead of piling up duplicate jobs every period (a thundering herd of
        # jobs queueing on the same row locks)
        if stuck:
            await s.execute(update(Order).where(Order.id.in_(stuck)).values(updated_at=now))
        if unhandled or refunds:
            await s.execute(
                update(Payment).where(Payment.id.in_([*unhandled, *refunds])).values(updated_at=now)
            )
        for oid in stuck:  # one job each: a poison order must not hold the others back
            enqueue_job("delegation.delegate_order", oid)
        for start in range(0, len(due), RECLAIM_BATCH):  # a failing batch splits itself
            enqueue_job(RECLAIM_JOB, *due[start : start + RECLAIM_BATCH])
        if unhandled:  # one batch, like the scanner's
            enqueue_job("payment.process_payment", *unhandled)
        for pid in refunds:
            enqueue_job("payment.refund_payment", pid)
        # the limbo invariant: every paid order with no outcome N blocks on alerts operators
        blocks = d.rt.paid_order_alert_blocks
        cutoff = limbo.paid_before(d.rt.block_interval_ms, blocks, now)
        in_limbo = await limbo.alert_orders_in_limbo(s, paid_before=cutoff, blocks=blocks)
        found = await limbo.limbo_figures(s, paid_before=cutoff, now=now)
        count, oldest = found.in_limbo, found.oldest
        await s.commit()
    ORDERS_IN_LIMBO.set(count)
    ORDERS_OLDEST_UNPROCESSED_AGE.set((now - oldest).total_seconds() if oldest else 0)
    for oid in in_limbo:
        log.warning("order %s paid %d+ blocks ago has no outcome: operators alerted", oid, blocks)
    if expired or watches or stuck or due or unhandled or refunds:
        log.info(
            "sweep: %d expired, %d watches timed out, %d stuck, %d reclaims, %d payments, "
            "%d refunds",
            len(expired),
            watches,
            len(stuck),
            len(due),
            len(unhandled),
            len(refunds),
        )
