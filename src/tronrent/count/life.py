"""A count package over time: idle fees, pause and resume on chain, the end of an unused
package and the settlement of its unused counts (docs/count-packages.md).

Time is chain time: idle periods are block slots (``count_idle_period_blocks``) counted from
``idle_since_block`` (the last use's block, the resume, or the scanned block when the package
was first seen active) to the last block the scanner processed. Everything here runs from the
periodic ``count.life`` job (and ``count.apply_pending``, enqueued in the transaction of a pause
or resume asked through HTTP or the bot); each step is its own transaction with the rows locked,
and every change is recorded once:

- **Idle fee**: per whole period with no use, ``count_idle_fee_counts`` counts are used
  (``idle_charged`` counts the periods charged since ``idle_since_block`` under the row lock;
  the history row's unique ``dedupe_key`` and the notice's dedupe key name the period). Not
  while paused, not while a use is being counted.
- **End**: a package with nothing left, or unused (or paused) for ``count_max_idle_days``
  periods, ends: with energy on the address its delegations are made due and the ordinary
  reclaim completes the order; a paused one (its energy reclaimed by the pause) is completed
  here, its delegation records closed and the pool's energy counted back.
- **Settlement**: a completed package whose counts are not all used (ended idle, or at its
  lifetime ``duration_hours``) has them forfeited or, with ``count_unused_policy`` ``refund``,
  their share of the price credited to the customer's balance (one ledger entry, cause
  ``order_refund`` ``<order id>:unused``); the customer is told either way.
- **Pause / resume on chain**: `count.service.pause` / `resume` leave a ``pending_action``;
  here its transactions (undelegations of the live delegations, or delegations of the same
  balance from the same pool, unlocked) are built, signed and STORED, then delivered; after a
  crash the same signed bytes are delivered again; one that expired unsent is built again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.count import auto
from tronrent.count.flows import (
    BROADCAST_CONCURRENCY,
    RECLAIM_JOB,
    live_delegations,
    locked_orders,
    resource_tx,
)
from tronrent.count.repository import scanned_block
from tronrent.count.rules import idle_periods, unused_refund
from tronrent.count.service import PAUSE
from tronrent.delegation.chain_tx import (
    Delivery,
    DeliveryResult,
    deliver,
    pool_key,
    record_delivery,
)
from tronrent.delegation.flows import FlowDeps
from tronrent.kit.db import read_only
from tronrent.kit.time import utcnow
from tronrent.models.auto_top_up import AutoTopUp
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose
from tronrent.models.count_package import (
    CountChangeKind,
    CountPackage,
    CountPackageChange,
    CountUse,
    CountUseStatus,
)
from tronrent.models.energy_delegation import DelegationStatus
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.order import Order, OrderStatus
from tronrent.order.notify import OrderEvent, notify_orders
from tronrent.order.state import move
from tronrent.pool.service import pool as pool_service
from tronrent.product.base import format_amount
from tronrent.product.count import counts_of
from tronrent.user.balance import balance as balance_service
from tronrent.worker import enqueue_job

log = logging.getLogger("tronrent.count")

IDLE_FEE_EVENT = "count_package_idle_fee"
ENDED_EVENT = "count_package_ended"
#: packages looked at per step and run
BATCH = 500
SYSTEM = "system"


@dataclass
class LifeOutcome:
    """What one `run` did (tests and logs)."""

    fees: int = 0
    ended: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)


def _history(
    pkg: CountPackage, kind: CountChangeKind, counts: int, reason: str, key: str | None
) -> CountPackageChange:
    return CountPackageChange(
        order_id=pkg.order_id,
        actor=SYSTEM,
        total_before=pkg.total_counts,
        total_after=pkg.total_counts,
        reason=reason,
        kind=kind,
        counts=counts,
        dedupe_key=key,
    )


async def _lock(s: AsyncSession, order_ids: Sequence[str]) -> list[tuple[Order, CountPackage]]:
    """Orders then packages, locked in id order (as the use flow locks them)."""
    orders, pkgs = await locked_orders(s, order_ids)
    return [(orders[oid], p) for oid, p in sorted(pkgs.items()) if oid in orders]


#: what carries a pause / resume to the chain: a count package or an auto top-up
Pausable = CountPackage | AutoTopUp


async def _lock_pausable(
    s: AsyncSession, model: type[Pausable], order_ids: Sequence[str]
) -> list[tuple[Order, Pausable]]:
    """Orders, then their count packages / auto top-ups, locked in id order."""
    if model is CountPackage:
        return list(await _lock(s, order_ids))
    orders, _ = await locked_orders(s, order_ids)
    autos = await auto.locked(s, order_ids)
    return [(orders[oid], a) for oid, a in sorted(autos.items()) if oid in orders]


class CountLife:
    async def run(self, d: FlowDeps) -> LifeOutcome:
        """One round: pending pauses / resumes, idle fees and ends, settlements. What is due
        is read in one transaction (on SQLite every transaction takes the write lock: an idle
        round costs one); each step with work is a transaction of its own."""
        out = LifeOutcome()
        now = utcnow()
        async with d.session_maker() as s:
            head = await scanned_block(s)
            pending = [
                oid
                for model in (CountPackage, AutoTopUp)
                for oid in (
                    await s.execute(
                        select(model.order_id)
                        .where(model.pending_action.is_not(None))
                        .order_by(model.order_id)
                        .limit(BATCH)
                    )
                ).scalars()
            ]
            paused_autos = list(
                (
                    await s.execute(
                        select(AutoTopUp.order_id)
                        .join(Order, Order.id == AutoTopUp.order_id)
                        .where(
                            AutoTopUp.paused.is_(True),
                            AutoTopUp.pending_action.is_(None),
                            Order.status == OrderStatus.ACTIVE,
                            Order.expires_at <= now,
                        )
                        .order_by(AutoTopUp.order_id)
                        .limit(BATCH)
                    )
                ).scalars()
            )
            idle = (
                [] if head is None else await _idle_due(s, d.rt.count_idle_period_blocks, head, now)
            )
            settle = list(
                (
                    await s.execute(
                        select(CountPackage.order_id)
                        .join(Order, Order.id == CountPackage.order_id)
                        .where(
                            Order.status == OrderStatus.COMPLETED,
                            CountPackage.settled_at.is_(None),
                        )
                        .order_by(CountPackage.order_id)
                        .limit(BATCH)
                    )
                ).scalars()
            )
        if pending:
            out.pending = await self.apply_pending(d, pending)
        if paused_autos:
            await self._end_paused_autos(d, out, paused_autos)
        if idle and head is not None:
            await self._idle(d, out, idle, head)
        if settle:
            await self._settle(d, out, settle)
        return out

    # --- idle fees and the end ------------------------------------------------------------

    async def _idle(self, d: FlowDeps, out: LifeOutcome, ids: Sequence[str], head: int) -> None:
        rt = d.rt
        period = rt.count_idle_period_blocks
        now = utcnow()
        async with d.session_maker() as s:
            events: list[OrderEvent] = []
            suffixes: list[str] = []
            reclaim: list[Order] = []
            paused_ends: list[tuple[Order, CountPackage]] = []
            for order, pkg in await _lock(s, ids):
                if order.status is not OrderStatus.ACTIVE or pkg.pending_action is not None:
                    continue
                if pkg.idle_since_block is None:
                    pkg.idle_since_block = head  # delivered: the idle clock starts
                    continue
                periods = idle_periods(
                    since_block=pkg.idle_since_block, head_block=head, period_blocks=period
                )
                charged_now = False
                fee = rt.count_idle_fee_counts
                max_idle = rt.count_max_idle_days
                # never beyond the period that ends the package
                chargeable = min(periods, max_idle) if max_idle else periods
                while not pkg.paused and fee and pkg.idle_charged < chargeable and pkg.remaining:
                    k = pkg.idle_charged + 1
                    counts = min(fee, pkg.remaining)
                    pkg.used_counts += counts
                    pkg.idle_charged = k
                    key = f"{pkg.idle_since_block}:{k}"
                    s.add(
                        _history(
                            pkg,
                            CountChangeKind.IDLE_FEE,
                            counts,
                            f"idle period {k} since block {pkg.idle_since_block} "
                            f"({period} blocks with no use)",
                            f"idle:{pkg.order_id}:{key}",
                        )
                    )
                    events.append(
                        (
                            order,
                            IDLE_FEE_EVENT,
                            {
                                "counts": counts,
                                "used": pkg.used_counts,
                                "total": pkg.total_counts,
                                "remaining": pkg.remaining,
                                "period": k,
                            },
                        )
                    )
                    suffixes.append(f":{key}")
                    out.fees += 1
                    charged_now = True
                # paused, no fee, or nothing left: the periods are over all the same (the
                # package is not looked at again before the next one)
                pkg.idle_charged = max(pkg.idle_charged, periods)
                if pkg.remaining == 0:
                    pkg.end_reason = pkg.end_reason or ("idle_fee" if charged_now else None)
                elif max_idle and periods >= max_idle:
                    pkg.end_reason = "idle"
                elif pkg.paused and order.expires_at is not None and order.expires_at <= now:
                    pkg.end_reason = None  # its lifetime (duration_hours) is over
                else:
                    continue
                if pkg.paused:
                    paused_ends.append((order, pkg))
                else:
                    reclaim.append(order)
            if reclaim:
                # due now: the ordinary reclaim undelegates and completes the order
                for xs in (await live_delegations(s, [o.id for o in reclaim])).values():
                    for x in xs:
                        x.expires_at = now
                for order in reclaim:
                    order.expires_at = now
            for order, pkg in paused_ends:
                events.append(await self._complete_paused(s, d, order, pkg, now))
                suffixes.append("")
            await notify_orders(s, events, suffixes=suffixes)
            if reclaim:  # sent once this commits (enqueued after it, it would be dropped)
                enqueue_job(RECLAIM_JOB, *(o.id for o in reclaim))
            await s.commit()
        out.ended += [o.id for o in reclaim] + [o.id for o, _ in paused_ends]

    async def _complete_paused(
        self, s: AsyncSession, d: FlowDeps, order: Order, pkg: CountPackage, now: datetime
    ) -> OrderEvent:
        """A paused package ends: nothing of ours is on the address (the pause undelegated
        it), so its delegation records close here and the pools count the energy back."""
        back: dict[uuid.UUID, int] = defaultdict(int)
        for x in (await live_delegations(s, [order.id])).get(order.id, []):
            x.status = DelegationStatus.EXPIRED
            x.reclaimed_at = now
            back[x.pool_account_id] += x.energy_amount
        for pool_id, energy in sorted(back.items()):
            await pool_service.reclaimed(s, pool_id, energy)
        move(order, OrderStatus.COMPLETED, completed_at=now)
        return (
            order,
            "rental_ended",
            {"duration_s": d.rt.rental_ms(order.duration_hours) // 1000, "tx_hashes": []},
        )

    async def _end_paused_autos(self, d: FlowDeps, out: LifeOutcome, ids: Sequence[str]) -> None:
        """Paused auto top-ups past their order's lifetime complete (nothing of ours is on the
        address)."""
        now = utcnow()
        async with d.session_maker() as s:
            events: list[OrderEvent] = []
            for order, a in await _lock_pausable(s, AutoTopUp, ids):
                expires = order.expires_at
                if order.status is not OrderStatus.ACTIVE or a.pending_action is not None:
                    continue
                if not a.paused or expires is None or expires > now:
                    continue
                await auto.close_paused(s, order, now)
                duration_s = d.rt.rental_ms(order.duration_hours) // 1000
                events.append((order, "rental_ended", {"duration_s": duration_s, "tx_hashes": []}))
                out.ended.append(order.id)
            await notify_orders(s, events)
            await s.commit()

    # --- unused counts of a completed package ----------------------------------------------

    async def _settle(self, d: FlowDeps, out: LifeOutcome, ids: Sequence[str]) -> None:
        policy = d.rt.count_unused_policy
        now = utcnow()
        async with d.session_maker() as s:
            events: list[OrderEvent] = []
            for order, pkg in await _lock(s, ids):
                if pkg.settled_at is not None:
                    continue
                pkg.settled_at = now
                out.settled.append(order.id)
                unused = pkg.remaining
                if not unused:
                    continue  # used up (by transfers or idle fees): nothing left to settle
                refund = 0
                if policy == "refund" and order.user_id is not None:
                    refund = unused_refund(
                        price_units=order.final_price_units,
                        unused=unused,
                        bought=counts_of(order),
                    )
                if refund and order.user_id is not None:
                    await balance_service.apply(
                        s,
                        user_id=order.user_id,
                        currency=order.currency,
                        delta_units=refund,
                        cause_type=LedgerCause.ORDER_REFUND,
                        cause_id=f"{order.id}:unused",
                        note=f"{unused} unused count(s) of {pkg.total_counts}",
                    )
                    pkg.refunded_units = refund
                why = pkg.end_reason or "lifetime"
                s.add(
                    _history(
                        pkg,
                        CountChangeKind.ENDED,
                        unused,
                        f"ended ({why}): {unused} unused, "
                        + (f"refunded {refund} units" if refund else "forfeited"),
                        f"ended:{order.id}",
                    )
                )
                payload: dict[str, Any] = {
                    "reason": why,
                    "unused": unused,
                    "used": pkg.used_counts,
                    "total": pkg.total_counts,
                }
                if refund:
                    payload["refund"] = format_amount(refund, order.currency)
                events.append((order, ENDED_EVENT, payload))
            await notify_orders(s, events)
            await s.commit()

    # --- pause / resume on chain ----------------------------------------------------------

    async def apply_pending(
        self, d: FlowDeps, order_ids: Sequence[str] | None = None
    ) -> dict[str, str]:
        """Store then deliver the pending pauses / resumes (all, or ``order_ids``'s); order id
        -> "sent", "failed", "expired" (built again next time), "pending" (no node took it
        yet) or "none" (nothing to send: no live delegation)."""
        states: dict[str, str] = {}
        for model in (CountPackage, AutoTopUp):
            states.update(await self._store_pending(d, model, order_ids))
            states.update(await self._deliver_pending(d, model, order_ids))
        return states

    async def _store_pending(
        self, d: FlowDeps, model: type[Pausable], order_ids: Sequence[str] | None
    ) -> dict[str, str]:
        states: dict[str, str] = {}
        stmt = select(model.order_id).where(
            model.pending_action.is_not(None), model.pending_txids.is_(None)
        )
        if order_ids is not None:
            stmt = stmt.where(model.order_id.in_(sorted(set(order_ids))))
        async with d.session_maker() as s:
            await read_only(s)
            ids = list((await s.execute(stmt.limit(BATCH))).scalars())
            signing = bool(ids) and bool(await live_delegations(s, ids))
        if not ids:
            return states
        # asked before the rows are locked: no node wait inside the transaction (SQLite's
        # single write lock); cached per block
        ref = await d.chain.reference_block(d.rt.block_interval_ms / 1000) if signing else None
        async with d.session_maker() as s:
            work = [
                (o, p)
                for o, p in await _lock_pausable(s, model, ids)
                if p.pending_action is not None and p.pending_txids is None
            ]
            live = await live_delegations(s, [o.id for o, _ in work])
            if ref is None:  # none were live a moment ago: those that are wait a round
                work = [(o, p) for o, p in work if o.id not in live]
            pools = {
                p.id: p
                for p in (
                    await s.execute(
                        select(EnergyPool).where(
                            EnergyPool.id.in_(
                                sorted({x.pool_account_id for xs in live.values() for x in xs})
                            )
                        )
                    )
                ).scalars()
            }
            for order, pkg in work:
                txids: list[str] = []
                purpose = (
                    ChainTxPurpose.UNDELEGATE
                    if pkg.pending_action == PAUSE
                    else ChainTxPurpose.DELEGATE
                )
                for x in live.get(order.id, []):
                    pool = pools[x.pool_account_id]
                    assert ref is not None
                    key = pool_key(d.box, pool)
                    txids.append(resource_tx(s, d, ref, pool, key, x, purpose).txid)
                if txids:
                    pkg.pending_txids = ",".join(txids)
                else:
                    pkg.pending_action = None  # nothing of ours on the address
                    states[order.id] = "none"
            await s.commit()
        return states

    async def _deliver_pending(
        self, d: FlowDeps, model: type[Pausable], order_ids: Sequence[str] | None
    ) -> dict[str, str]:
        async with d.session_maker() as s:
            stmt = select(model.order_id, model.pending_action, model.pending_txids).where(
                model.pending_txids.is_not(None)
            )
            if order_ids is not None:
                stmt = stmt.where(model.order_id.in_(sorted(set(order_ids))))
            todo = [
                (oid, str(a), str(t)) for oid, a, t in (await s.execute(stmt.limit(BATCH))).all()
            ]
            txids = sorted({t for _, _, ts in todo for t in ts.split(",")})
            rows = {
                r.txid: r
                for r in (
                    await s.execute(
                        select(ChainTransaction).where(ChainTransaction.txid.in_(txids))
                    )
                ).scalars()
            }
        if not todo:
            return {}
        head = await d.chain.reference_block(d.rt.block_interval_ms / 1000)
        gate = asyncio.Semaphore(BROADCAST_CONCURRENCY)
        results: dict[int, DeliveryResult] = {}

        async def one(txids_text: str) -> str:
            state = "sent"
            async with gate:
                for txid in txids_text.split(","):
                    row = rows.get(txid)
                    if row is None:
                        return "failed"
                    r = await deliver(d.chain, row, wait_s=0, poll_s=d.rt.poll_s, head=head)
                    results[row.id] = r
                    if r.status is Delivery.EXPIRED:
                        state = "expired"
                    elif r.status is Delivery.FAILED:
                        log.warning("count pause/resume transaction %s: %s", txid, r.error)
                        state = "failed"
                    elif r.status is Delivery.PENDING and r.error and state == "sent":
                        state = "pending"
            return state

        found = await asyncio.gather(*(one(t) for _, _, t in todo))
        states = {oid: st for (oid, _, _), st in zip(todo, found, strict=True)}
        async with d.session_maker() as s:
            by_result: dict[tuple[Delivery, str | None], list[int]] = defaultdict(list)
            for row_id, r in results.items():
                by_result[(r.status, r.error)].append(row_id)
            for row_ids in by_result.values():
                await record_delivery(s, row_ids, results[row_ids[0]])
            for order, pkg in await _lock_pausable(s, model, list(states)):
                st = states[order.id]
                if pkg.pending_txids is None or st == "pending":
                    continue
                if st == "sent" or (st == "failed" and pkg.pending_action == PAUSE):
                    # a pause whose undelegation is refused has nothing left to take back
                    pkg.pending_action = None
                pkg.pending_txids = None  # expired or a refused resume: built again next run
            await s.commit()
        return states


async def _idle_due(s: AsyncSession, period: int, head: int, now: datetime) -> list[str]:
    """Active packages the idle step has work for: not on the idle clock yet, a period over,
    nothing left, or paused past the order's lifetime; none with a use still being counted or
    a pause / resume on its way."""
    busy = select(CountUse.order_id).where(
        CountUse.status.in_((CountUseStatus.SEEN, CountUseStatus.TOPPING_UP))
    )
    return list(
        (
            await s.execute(
                select(CountPackage.order_id)
                .join(Order, Order.id == CountPackage.order_id)
                .where(
                    Order.status == OrderStatus.ACTIVE,
                    CountPackage.pending_action.is_(None),
                    CountPackage.order_id.not_in(busy),
                    or_(
                        CountPackage.idle_since_block.is_(None),
                        CountPackage.idle_since_block + (CountPackage.idle_charged + 1) * period
                        <= head,
                        CountPackage.used_counts >= CountPackage.total_counts,
                        and_(CountPackage.paused.is_(True), Order.expires_at <= now),
                    ),
                )
                .order_by(CountPackage.order_id)
                .limit(BATCH)
            )
        ).scalars()
    )


count_life = CountLife()
