"""Following a count package's use: count each transfer once, top the address up in the next
block, reclaim after the last count.

`apply_uses` (a batch: the uses the scanner recorded in one scanned batch) has two steps, each
its own committed transaction, like the delegation flows:

1. **Count and store** (rows locked: the uses, their orders and packages). Each use still
   ``seen`` is weighed (`rules.counts_for`) and added to the package's ``used_counts``. A package
   with counts left gets one top-up per batch: for each of its live delegations an
   ``UnDelegateResourceContract`` of the delegation's whole balance followed by a
   ``DelegateResourceContract`` of the same balance, unlocked, from the same pool to the same
   address - both built locally, signed and STORED (``chain_transactions``) before anything
   is broadcast. A package used up has its delegations made due now and the ordinary reclaim
   job completes the order.
2. **Deliver** the stored pairs, the undelegation first, then the delegation (a node executes
   transactions in the order it accepts them, so both land in the next block in that order).
   On a retry after a crash the same signed bytes are delivered again (`chain_tx.deliver`: a
   duplicate is a success), never rebuilt.

Why undelegate and delegate the same balance (docs/count-packages.md): undelegating the whole
balance moves the address's used energy back to the pool (Stake 2.0 moves usage in proportion
to the balance undelegated, all of it here), so the fresh delegation gives exactly one
transfer's energy again; the stake held per package never exceeds one transfer's balance,
however many transfers are made.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.errors import ChainError, ChainUnavailable
from tronrent.adapters.tron.port import BlockHeader, SignedTx
from tronrent.count import auto
from tronrent.count.rules import counts_for
from tronrent.delegation import record
from tronrent.delegation.chain_tx import (
    Delivery,
    DeliveryResult,
    deliver,
    pool_key,
    record_delivery,
    stored_row,
)
from tronrent.delegation.flows import FlowDeps
from tronrent.kit.crypto import Secret
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.count_package import CountPackage, CountUse, CountUseStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.energy_transaction import EnergyTransactionStatus, EnergyTransactionType
from tronrent.models.order import Order, OrderStatus
from tronrent.order.notify import OrderEvent, notify_orders
from tronrent.worker import enqueue_job

log = logging.getLogger("tronrent.count")

RECLAIM_JOB = "delegation.reclaim_order"
#: top-up pairs broadcast at once (each pair in order: undelegation, then delegation)
BROADCAST_CONCURRENCY = 16
USED_EVENT = "count_package_used"


@dataclass
class CountOutcome:
    """What one `apply_uses` run did: use id -> its status, and the top-up pairs delivered."""

    statuses: dict[int, str]
    delivered: int = 0


async def _locked_uses(s: AsyncSession, use_ids: Sequence[int]) -> list[CountUse]:
    stmt = (
        select(CountUse)
        .where(CountUse.id.in_(sorted(use_ids)))
        .order_by(CountUse.block_number, CountUse.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await s.execute(stmt)).scalars())


async def locked_orders(
    s: AsyncSession, order_ids: Sequence[str]
) -> tuple[dict[str, Order], dict[str, CountPackage]]:
    """The orders, then their count packages, locked in id order (every count step locks in
    this order: no deadlock between them)."""
    ids = sorted(set(order_ids))
    orders = (
        await s.execute(
            select(Order)
            .where(Order.id.in_(ids))
            .order_by(Order.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalars()
    pkgs = (
        await s.execute(
            select(CountPackage)
            .where(CountPackage.order_id.in_(ids))
            .order_by(CountPackage.order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalars()
    return {o.id: o for o in orders}, {p.order_id: p for p in pkgs}


async def live_delegations(
    s: AsyncSession, order_ids: Sequence[str]
) -> dict[str, list[EnergyDelegation]]:
    """Order id -> its delegations on chain (``success``), by id (the caller holds the orders'
    locks)."""
    rows = (
        await s.execute(
            select(EnergyDelegation)
            .where(
                EnergyDelegation.order_id.in_(sorted(set(order_ids))),
                EnergyDelegation.status == DelegationStatus.SUCCESS,
            )
            .order_by(EnergyDelegation.id)
        )
    ).scalars()
    out: dict[str, list[EnergyDelegation]] = defaultdict(list)
    for x in rows:
        out[x.order_id].append(x)
    return out


def resource_tx(
    s: AsyncSession,
    d: FlowDeps,
    ref: BlockHeader,
    pool: EnergyPool,
    key: Secret,
    x: EnergyDelegation,
    purpose: ChainTxPurpose,
) -> SignedTx:
    """An undelegation of delegation ``x``'s whole balance, or a delegation of the same balance
    (unlocked: the next top-up or a pause undelegates it at once) from the same pool to the
    same address, built locally, signed and added to the session (STORED before anything is
    sent). No order_id: the scanner confirms it without re-running the order's delegation or
    reclaim; no delegation_id: one still on its way when the next use comes would count as a
    second live delegation of ``x`` (the use rows and the package hold the txids)."""
    balance = x.balance_sun or 0
    permission = pool.permission_id or 0
    if purpose is ChainTxPurpose.UNDELEGATE:
        tx = d.chain.build_undelegate_local(
            ref, pool.tron_address, x.recipient_address, balance, permission_id=permission
        )
    else:
        tx = d.chain.build_delegate_local(
            ref,
            pool.tron_address,
            x.recipient_address,
            balance,
            lock=False,
            lock_period=0,
            permission_id=permission,
        )
    signed = d.chain.sign(tx, key.reveal())
    s.add(
        stored_row(
            signed,
            purpose=purpose,
            owner=pool.tron_address,
            to=x.recipient_address,
            amount_sun=balance,
            pool_id=pool.id,
        )
    )
    return signed


async def reference_block_or_none(d: FlowDeps) -> BlockHeader | None:
    """The reference block to build transactions on (cached per block), or None when the
    node does not answer: read before a transaction opens, raised in it only if needed."""
    try:
        return await d.chain.reference_block(d.rt.block_interval_ms / 1000)
    except ChainError:
        return None


class CountFlows:
    async def apply_uses(self, d: FlowDeps, use_ids: Sequence[int]) -> CountOutcome:
        """Count the uses, store the top-ups (commit), deliver them (commit)."""
        statuses = await self._count_and_store(d, use_ids)
        delivered, expired = await self.deliver_top_ups(d, use_ids)
        if expired:  # stored too long ago and never on chain: built again, sent once
            statuses.update(await self._count_and_store(d, expired))
            delivered += (await self.deliver_top_ups(d, expired))[0]
        return CountOutcome(statuses, delivered)

    async def _count_and_store(self, d: FlowDeps, use_ids: Sequence[int]) -> dict[int, str]:
        now = utcnow()
        ending: list[str] = []
        # the reference block (cached per block) is read before the rows are locked: no
        # transaction waits on the node (SQLite: it would hold every other writer back)
        ref = await reference_block_or_none(d)
        async with d.session_maker() as s:
            uses = await _locked_uses(s, use_ids)
            orders, pkgs = await locked_orders(s, [u.order_id for u in uses])
            autos = await auto.locked(s, [u.order_id for u in uses])
            fresh: dict[str, list[CountUse]] = defaultdict(list)
            events: list[tuple[OrderEvent, str]] = []
            for u in uses:
                if u.status is CountUseStatus.TOPPING_UP and not u.top_up_tx_hash:
                    fresh[u.order_id].append(u)  # counted; its pair expired unsent: rebuilt
                    continue
                if u.status is not CountUseStatus.SEEN or u.order_id in autos:
                    continue
                order, pkg = orders.get(u.order_id), pkgs.get(u.order_id)
                if order is None or pkg is None or order.status is not OrderStatus.ACTIVE:
                    u.status = CountUseStatus.NOT_COUNTED  # the package ended meanwhile
                    continue
                u.counts = counts_for(
                    energy_used=u.energy_used,
                    energy_per_count=pkg.energy_per_count,
                    new_holder_counts=pkg.new_holder_counts,
                    remaining=pkg.remaining,
                )
                if not u.counts:
                    u.status = CountUseStatus.NOT_COUNTED
                    continue
                pkg.used_counts += u.counts
                pkg.last_use_at = now
                # a use restarts the idle clock (chain time: its block)
                pkg.idle_since_block = max(pkg.idle_since_block or 0, u.block_number)
                pkg.idle_charged = 0
                if pkg.paused:
                    # made before the pause's undelegation landed: counted, nothing to top up
                    # (count.life ends a package left with nothing)
                    u.status = CountUseStatus.COUNTED
                else:
                    u.status = CountUseStatus.TOPPING_UP
                    fresh[order.id].append(u)
                used = {
                    "used": pkg.used_counts,
                    "total": pkg.total_counts,
                    "remaining": pkg.remaining,
                    "tx_hash": u.tx_hash,
                }
                events.append(((order, USED_EVENT, used), f":{u.tx_hash}"))
            if autos:  # auto top-ups: billed to the balance, stopped when it runs out
                weighed = await auto.weigh(s, now, orders, autos, uses)
                for u in weighed.top_up:
                    fresh[u.order_id].append(u)
                events.extend(weighed.events)
                await auto.end_now(s, [orders[i] for i in weighed.ending], now)
                for order_id in weighed.ending:  # billed for what it drew; nothing topped up
                    for u in fresh.pop(order_id, []):
                        u.status = CountUseStatus.LAST
            live = await live_delegations(s, list(fresh))
            to_top_up: list[tuple[list[CountUse], list[EnergyDelegation]]] = []
            for order_id, batch in fresh.items():
                pkg = pkgs.get(order_id)
                if pkg is not None and pkg.remaining == 0:
                    for u in batch:
                        u.status = CountUseStatus.LAST
                    # due now: the ordinary reclaim undelegates and completes the order
                    for x in live.get(order_id, []):
                        x.expires_at = now
                    orders[order_id].expires_at = now
                    ending.append(order_id)
                elif live.get(order_id):
                    to_top_up.append((batch, live[order_id]))
                else:
                    log.warning("count package %s has no live delegation to top up", order_id)
            if to_top_up:
                if ref is None:  # the node was down: nothing is kept (rolled back), retried
                    raise ChainUnavailable("no reference block: the node did not answer")
                await self._store_pairs(s, d, to_top_up, ref)
            # one notice per use: its dedupe key names the use's transaction
            await notify_orders(s, [e for e, _ in events], suffixes=[x for _, x in events])
            statuses = {u.id: u.status.value for u in uses}
            if ending:  # sent once this commits (enqueued after it, it would be dropped)
                enqueue_job(RECLAIM_JOB, *ending)
            await s.commit()
        return statuses

    async def _store_pairs(
        self,
        s: AsyncSession,
        d: FlowDeps,
        work: Sequence[tuple[list[CountUse], list[EnergyDelegation]]],
        ref: BlockHeader,
    ) -> None:
        pool_ids = sorted({x.pool_account_id for _, xs in work for x in xs})
        pools: dict[uuid.UUID, EnergyPool] = {
            p.id: p
            for p in (
                await s.execute(select(EnergyPool).where(EnergyPool.id.in_(pool_ids)))
            ).scalars()
        }
        keys: dict[uuid.UUID, Secret] = {}
        entries: list[dict[str, Any]] = []
        for uses, delegations in work:
            undelegated: list[str] = []
            delegated: list[str] = []
            for x in delegations:
                pool = pools[x.pool_account_id]
                if pool.id not in keys:
                    keys[pool.id] = pool_key(d.box, pool)
                undo = resource_tx(s, d, ref, pool, keys[pool.id], x, ChainTxPurpose.UNDELEGATE)
                redo = resource_tx(s, d, ref, pool, keys[pool.id], x, ChainTxPurpose.DELEGATE)
                for tx, purpose in (
                    (undo, ChainTxPurpose.UNDELEGATE),
                    (redo, ChainTxPurpose.DELEGATE),
                ):
                    # seed 001's record: operators see every top-up
                    kind = EnergyTransactionType(purpose.value)
                    entries.append(record.of_delegation(kind, x, pool, tx.txid))
                undelegated.append(undo.txid)
                delegated.append(redo.txid)
            for u in uses:
                u.undelegate_tx_hash = ",".join(undelegated)[:100]
                u.top_up_tx_hash = ",".join(delegated)[:100]
        await s.flush()
        await record.add(s, entries)

    async def deliver_top_ups(self, d: FlowDeps, use_ids: Sequence[int]) -> tuple[int, list[int]]:
        """Deliver the stored pairs of the uses still topping up (undelegation first); the
        number of pairs the node accepted, and the uses whose pair expired before any node
        took it (their txids are cleared: `_count_and_store` builds a new pair). Safe to
        repeat (the sweep does, after a crash).

        Read (no lock held), broadcast the pairs concurrently (each pair in order), then
        record the results and the uses in one transaction."""
        async with d.session_maker() as s:
            pending = [
                u
                for u in (
                    await s.execute(select(CountUse).where(CountUse.id.in_(sorted(use_ids))))
                ).scalars()
                if u.status is CountUseStatus.TOPPING_UP
            ]
            pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
            for u in pending:
                pairs[(u.undelegate_tx_hash or "", u.top_up_tx_hash or "")].append(u.id)
            txids = sorted({t for key in pairs for part in key for t in part.split(",") if t})
            rows = {
                r.txid: r
                for r in (
                    await s.execute(
                        select(ChainTransaction).where(ChainTransaction.txid.in_(txids))
                    )
                ).scalars()
            }
        if not pairs:
            return 0, []
        head = await d.chain.reference_block(d.rt.block_interval_ms / 1000)
        gate = asyncio.Semaphore(BROADCAST_CONCURRENCY)
        results: dict[int, DeliveryResult] = {}
        expired: list[tuple[str, str]] = []

        async def pair(undos: str, redos: str) -> bool:
            ok = True
            async with gate:
                for undo_id, redo_id in zip(undos.split(","), redos.split(","), strict=True):
                    undo, redo = rows.get(undo_id), rows.get(redo_id)
                    if undo is None or redo is None:
                        ok = False
                        continue
                    first = await deliver(d.chain, undo, wait_s=0, poll_s=d.rt.poll_s, head=head)
                    results[undo.id] = first
                    if first.status is Delivery.EXPIRED and redo.status is ChainTxStatus.SIGNED:
                        results[redo.id] = first  # never sent either: both expire
                        expired.append((undos, redos))
                        ok = False
                        continue
                    if first.status in (Delivery.FAILED, Delivery.EXPIRED):
                        # the delegation is left as it was: sending the new one would add a
                        # second transfer's stake; an operator sees the failed row
                        log.warning("count top-up undelegation %s: %s", undo.txid, first.error)
                        ok = False
                        continue
                    second = await deliver(d.chain, redo, wait_s=0, poll_s=d.rt.poll_s, head=head)
                    results[redo.id] = second
                    if second.status in (Delivery.FAILED, Delivery.EXPIRED):
                        log.warning("count top-up delegation %s: %s", redo.txid, second.error)
                        ok = False
            return ok

        keys = list(pairs)
        oks = await asyncio.gather(*(pair(u, r) for u, r in keys))
        done = [uid for key, ok in zip(keys, oks, strict=True) if ok for uid in pairs[key]]
        async with d.session_maker() as s:
            by_result: dict[tuple[Delivery, str | None], list[int]] = defaultdict(list)
            for row_id, result in results.items():
                by_result[(result.status, result.error)].append(row_id)
            for row_ids in by_result.values():
                await record_delivery(s, row_ids, results[row_ids[0]])
            await record.settle(s, _failed_outcomes(rows, results))
            if done:
                await s.execute(
                    update(CountUse)
                    .where(
                        CountUse.id.in_(sorted(done)),
                        CountUse.status == CountUseStatus.TOPPING_UP,
                    )
                    .values(status=CountUseStatus.TOPPED_UP, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
            again = [uid for key in expired for uid in pairs[key]]
            if again:
                await s.execute(
                    update(CountUse)
                    .where(
                        CountUse.id.in_(sorted(again)),
                        CountUse.status == CountUseStatus.TOPPING_UP,
                    )
                    .values(undelegate_tx_hash=None, top_up_tx_hash=None, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
            await s.commit()
        return sum(1 for ok in oks if ok), again


def _failed_outcomes(
    rows: dict[str, ChainTransaction], results: dict[int, DeliveryResult]
) -> list[record.Outcome]:
    """The energy_transactions outcome of the top-up transactions refused or expired unsent
    (the scanner confirms the others from their block)."""
    by_id = {r.id: r for r in rows.values()}
    return [
        record.Outcome(
            by_id[row_id].txid,
            EnergyTransactionStatus.FAILED,
            error=r.error or f"{r.status.value} (never in a block)",
        )
        for row_id, r in results.items()
        if r.status in (Delivery.FAILED, Delivery.EXPIRED)
    ]


count_flows = CountFlows()
