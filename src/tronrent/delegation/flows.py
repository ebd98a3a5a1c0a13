"""Delegate, reclaim: multi-step flows, each step its own committed transaction.

delegate_order: reserve pool energy + build + sign + STORE (commit) -> deliver (broadcast /
look up) -> record (commit) -> order active. A crash anywhere resumes from the stored rows: a
stored transaction is delivered again (same txid), never rebuilt unless provably expired.
A rejected delegation releases its reservation and the next round picks another pool.

reclaim_order: once the chain's lock expiry has passed, undelegate each delegation the same
way (stored before broadcast), then the order is completed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.adapters.tron.port import ChainPort
from tronrent.delegation.chain_tx import (
    Delivery,
    DeliveryResult,
    deliver,
    live_tx,
    pool_key,
    record_delivery,
    sign_and_store,
)
from tronrent.kit.crypto import SecretBox
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.notification import alerts
from tronrent.order.notify import notify_order
from tronrent.order.runtime import FlashRuntime
from tronrent.order.state import transition
from tronrent.pool.allocation import plan_allocation
from tronrent.pool.energy import BP_PER_UNIT, EnergyRatio, lock_period_blocks_for_ms
from tronrent.pool.service import pool as pool_service
from tronrent.worker import Retry, enqueue_job

log = logging.getLogger("tronrent.delegation")

LIVE = (DelegationStatus.PENDING, DelegationStatus.BROADCAST)
HOLDING = (*LIVE, DelegationStatus.SUCCESS)
REFUND_JOB = "payment.refund_payment"


async def energy_ratio(chain: ChainPort, address: str, max_age_s: float) -> EnergyRatio:
    """The chain's current TotalEnergyLimit / TotalEnergyWeight (never a constant), read at most
    once per ``max_age_s`` (a block interval: the totals only move with blocks)."""
    limit, weight = await chain.energy_totals(address, max_age_s)
    return EnergyRatio(limit, weight)


def stake_for(ratio: EnergyRatio, energy: int, margin_bp: int) -> int:
    """Stake (sun) delivering between ``energy / (1 + margin)`` (the energy sold) and ``energy``
    (the order's energy, which already includes the drift margin): the margin applied once."""
    sold = energy * BP_PER_UNIT // (BP_PER_UNIT + margin_bp)
    return ratio.stake_sun_for_energy(max(sold, 1), margin_bp)


@dataclass
class FlowDeps:
    session_maker: async_sessionmaker[AsyncSession]
    chain: ChainPort
    box: SecretBox
    rt: FlashRuntime


async def _delegations(
    session: AsyncSession, order_id: str, statuses: tuple[DelegationStatus, ...] | None = None
) -> list[EnergyDelegation]:
    stmt = select(EnergyDelegation).where(EnergyDelegation.order_id == order_id)
    if statuses is not None:
        stmt = stmt.where(EnergyDelegation.status.in_(statuses))
    return list((await session.execute(stmt.order_by(EnergyDelegation.id))).scalars().all())


async def _pools_rejected(session: AsyncSession, order_id: str) -> set[str]:
    """Pools whose delegation for the order the chain rejected (or failed in its block).

    A delegation whose transaction merely expired unsent (a backlog, a crash) says nothing
    about the pool: it is rebuilt on the same pool - excluding it would leave an order on a
    single pool waiting for capacity forever.
    """
    rows = await session.execute(
        select(EnergyDelegation.pool_account_id)
        .join(ChainTransaction, ChainTransaction.delegation_id == EnergyDelegation.id)
        .where(
            EnergyDelegation.order_id == order_id,
            EnergyDelegation.status == DelegationStatus.FAILED,
            ChainTransaction.purpose == ChainTxPurpose.DELEGATE,
            ChainTransaction.status == ChainTxStatus.FAILED,
        )
        .distinct()
    )
    return {str(pool_id) for (pool_id,) in rows}


async def _pools_locking(session: AsyncSession, recipient: str, order_id: str) -> set[str]:
    """Pools with a live (locked) delegation to `recipient` for another order."""
    rows = await session.execute(
        select(EnergyDelegation.pool_account_id)
        .where(
            EnergyDelegation.recipient_address == recipient,
            EnergyDelegation.order_id != order_id,
            EnergyDelegation.status.in_((*HOLDING, DelegationStatus.RECLAIMING)),
        )
        .distinct()
    )
    return {str(pool_id) for (pool_id,) in rows}


def delegation_result(
    delegations: list[EnergyDelegation], pools: dict[Any, str]
) -> list[dict[str, Any]]:
    """Seed 000's `delegationResult` entries."""
    out = []
    for i, d in enumerate(delegations, start=1):
        entry: dict[str, Any] = {
            "transactionIndex": i,
            "poolAccount": pools.get(d.pool_account_id, ""),
            "energyAmount": d.energy_amount,
            "txHash": d.tx_hash,
            "success": d.status in (DelegationStatus.SUCCESS, DelegationStatus.EXPIRED),
        }
        if d.status is DelegationStatus.FAILED and d.error_message:
            entry["error"] = d.error_message
        out.append(entry)
    return out


class DelegationFlows:
    # --- delegate -----------------------------------------------------------------------------
    async def delegate_order(self, d: FlowDeps, order_id: str) -> str:
        """Bring the order's energy on chain; returns the order status reached."""
        for _ in range(d.rt.max_pool_attempts + 1):
            state = await self._prepare(d, order_id)
            if state != "deliver":
                return state
            if not await self._deliver_live(d, order_id, ChainTxPurpose.DELEGATE):
                # broadcast and not in a block yet: the job ends here (no slot held while the
                # chain works). The scanner confirms it from the block and enqueues this job
                # again; the sweeper re-drives it if that never happens (lookup, expiry).
                return "broadcast"
            state = await self._settle(d, order_id)
            if state != "again":
                return state
        return await self._give_up(d, order_id, "no pool could delegate the energy")

    async def _prepare(self, d: FlowDeps, order_id: str) -> str:
        block_s = d.rt.block_interval_ms / 1000
        ratio = await energy_ratio(d.chain, d.rt.payment_address, block_s)
        ref = await d.chain.reference_block(block_s)
        async with d.session_maker() as s:
            order = (
                await s.execute(
                    select(Order)
                    .where(Order.id == order_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            if order is None:
                return "missing"
            if order.status is OrderStatus.PAID:
                await transition(s, order_id, OrderStatus.PAID, OrderStatus.DELEGATING)
            elif order.status is not OrderStatus.DELEGATING:
                return order.status.value
            holding = await _delegations(s, order_id, HOLDING)
            if any(x.status in LIVE for x in holding):
                await s.commit()
                return "deliver"
            need = (order.energy_amount or 0) - sum(x.energy_amount for x in holding)
            if need <= 0:
                await s.commit()
                return await self._settle(d, order_id)
            failed = await _pools_rejected(s, order_id)
            if len(failed) > d.rt.max_pool_attempts:
                await s.commit()
                return await self._give_up(d, order_id, "delegation failed on every pool tried")
            recipient = order.target_address or ""
            candidates = await pool_service.candidates(s, exclude=failed)
            # a second locked delegation from the same pool to the same receiver resets the lock
            # of the whole amount (FACTS.md): prefer another pool; reuse one only if we must
            busy = await _pools_locking(s, recipient, order_id)
            plan = plan_allocation(need, candidates, exclude=busy, unit_sun=1)
            if busy and not plan.is_complete:
                plan = plan_allocation(need, candidates, unit_sun=1)
            if not plan.is_complete:
                await transition(
                    s,
                    order_id,
                    OrderStatus.DELEGATING,
                    OrderStatus.PAID,
                    status_reason=f"waiting for pool capacity ({plan.status.value}, "
                    f"{need} energy needed)",
                )
                await notify_order(s, order, "waiting_for_energy", {"energy": need})
                await s.commit()
                raise Retry(f"order {order_id}: no pool capacity", delay_s=5.0)
            rental_ms = d.rt.rental_ms(order.duration_hours)
            lock = lock_period_blocks_for_ms(rental_ms, d.rt.block_interval_ms)
            # build every transaction first (locally, from the block read above: no node call),
            # then reserve: the pool rows are locked only from the reservation to the commit
            built = []
            for part in plan.parts:
                pool = await pool_service.get(s, uuid.UUID(part.pool_id))
                balance = stake_for(ratio, part.amount_sun, d.rt.margin_bp)
                tx = d.chain.build_delegate_local(
                    ref, pool.tron_address, recipient, balance, lock=True, lock_period=lock
                )
                built.append((part, pool, balance, tx))
            for part, pool, balance, tx in built:
                if not await pool_service.reserve(s, pool.id, part.amount_sun):
                    await s.rollback()
                    raise Retry("pool capacity changed while reserving; planning again", 0.01)
                delegation = EnergyDelegation(
                    order_id=order_id,
                    pool_account_id=pool.id,
                    recipient_address=recipient,
                    energy_amount=part.amount_sun,
                    balance_sun=balance,
                    duration_hours=order.duration_hours,
                    lock_period=lock,
                    status=DelegationStatus.PENDING,
                )
                s.add(delegation)
                await s.flush()
                row = await sign_and_store(
                    s,
                    d.chain,
                    tx,
                    pool_key(d.box, pool),
                    purpose=ChainTxPurpose.DELEGATE,
                    owner=pool.tron_address,
                    to=recipient,
                    amount_sun=balance,
                    order_id=order_id,
                    delegation_id=delegation.id,
                    pool_id=pool.id,
                )
                delegation.tx_hash = row.txid
            await s.commit()
        return "deliver"

    async def _deliver_live(self, d: FlowDeps, order_id: str, purpose: ChainTxPurpose) -> bool:
        """Deliver every stored live transaction of the order for `purpose` (no lock held).

        Delegations are broadcast without waiting for their block (the scanner confirms them,
        see scanner/service.py); a delegation the scanner already confirmed is applied without a
        node call. False when a delegation was broadcast and is not in a block yet.
        """
        wanted = [ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST]
        if purpose is ChainTxPurpose.DELEGATE:
            wanted.append(ChainTxStatus.CONFIRMED)
        async with d.session_maker() as s:
            stmt = select(ChainTransaction).where(
                ChainTransaction.order_id == order_id,
                ChainTransaction.purpose == purpose,
                ChainTransaction.status.in_(wanted),
            )
            if purpose is ChainTxPurpose.DELEGATE:
                stmt = stmt.join(
                    EnergyDelegation, EnergyDelegation.id == ChainTransaction.delegation_id
                ).where(EnergyDelegation.status.in_(LIVE))
            rows = (await s.execute(stmt)).scalars().all()
            await s.commit()
        block_s = d.rt.block_interval_ms / 1000
        settled = True
        unsent: str | None = None
        for row in rows:
            if row.status is ChainTxStatus.CONFIRMED:
                result = DeliveryResult(Delivery.CONFIRMED)  # seen in a block by the scanner
            elif purpose is ChainTxPurpose.DELEGATE:
                result = await deliver(
                    d.chain, row, wait_s=0, poll_s=d.rt.poll_s, head_max_age_s=block_s
                )
                if result.status is Delivery.PENDING and result.error:
                    # not handed to a node (unreachable, busy): try again soon, like before
                    result = await deliver(
                        d.chain, row, wait_s=d.rt.confirm_timeout_s, poll_s=d.rt.poll_s
                    )
                settled = settled and result.status is not Delivery.PENDING
                if result.status is Delivery.PENDING and result.error:
                    unsent = result.error
            else:
                result = await deliver(
                    d.chain, row, wait_s=d.rt.confirm_timeout_s, poll_s=d.rt.poll_s
                )
            async with d.session_maker() as s:
                if row.status is not ChainTxStatus.CONFIRMED:
                    await record_delivery(s, row.id, result)
                if row.delegation_id is not None:
                    await self._apply_delivery(s, d, row, result.status, result.error, purpose)
                await s.commit()
        if unsent is not None:
            # still not accepted by a node (down, busy, or an expiry to decide): retry the job
            # soon rather than leave it to the sweeper
            raise Retry(f"order {order_id}: delegation not accepted yet: {unsent}", d.rt.poll_s)
        return settled

    async def _apply_delivery(
        self,
        s: AsyncSession,
        d: FlowDeps,
        row: ChainTransaction,
        status: Delivery,
        error: str | None,
        purpose: ChainTxPurpose,
    ) -> None:
        delegation = await s.get(EnergyDelegation, row.delegation_id, with_for_update=True)
        if delegation is None:
            return
        now = utcnow()
        if purpose is ChainTxPurpose.DELEGATE:
            if delegation.status not in LIVE:
                return
            if status is Delivery.CONFIRMED:
                delegation.status = DelegationStatus.SUCCESS
                delegation.delegated_at = now
                order = await s.get(Order, delegation.order_id)
                hours = order.duration_hours if order else delegation.duration_hours
                delegation.expires_at = now + timedelta(milliseconds=d.rt.rental_ms(hours))
                await pool_service.confirm(s, delegation.pool_account_id, delegation.energy_amount)
            elif status in (Delivery.FAILED, Delivery.EXPIRED):
                delegation.status = DelegationStatus.FAILED
                delegation.error_message = (error or status.value)[:1000]
                await pool_service.release(
                    s,
                    delegation.pool_account_id,
                    delegation.energy_amount,
                    failed=status is Delivery.FAILED,
                )
                failing_pool = await s.get(EnergyPool, delegation.pool_account_id)
                await alerts.delegation_failing(
                    s,
                    delegation_id=delegation.id,
                    order_id=delegation.order_id,
                    pool_address=failing_pool.tron_address if failing_pool else None,
                    error=delegation.error_message,
                    attempts=len(
                        await _delegations(s, delegation.order_id, (DelegationStatus.FAILED,))
                    ),
                )
            else:
                delegation.status = DelegationStatus.BROADCAST
        else:  # undelegate
            if delegation.status is not DelegationStatus.RECLAIMING:
                return
            if status is Delivery.CONFIRMED:
                delegation.status = DelegationStatus.EXPIRED
                delegation.reclaimed_at = now
                await pool_service.reclaimed(
                    s, delegation.pool_account_id, delegation.energy_amount
                )
            elif status in (Delivery.FAILED, Delivery.EXPIRED):
                # lock not yet over on chain, or expired unsent: back to success, retry later
                delegation.status = DelegationStatus.SUCCESS
                delegation.error_message = (error or status.value)[:1000]

    async def _settle(self, d: FlowDeps, order_id: str) -> str:
        async with d.session_maker() as s:
            order = await s.get(Order, order_id, with_for_update=True)
            if order is None or order.status is not OrderStatus.DELEGATING:
                return order.status.value if order else "missing"
            all_d = await _delegations(s, order_id)
            if any(x.status in LIVE for x in all_d):
                await s.commit()
                raise Retry(f"order {order_id}: delegation not in a block yet", delay_s=d.rt.poll_s)
            delivered = sum(x.energy_amount for x in all_d if x.status is DelegationStatus.SUCCESS)
            if delivered < (order.energy_amount or 0):
                await s.commit()
                return "again"
            pools = {
                p.id: p.tron_address
                for p in (
                    await s.execute(
                        select(EnergyPool).where(
                            EnergyPool.id.in_({x.pool_account_id for x in all_d})
                        )
                    )
                ).scalars()
            }
            ok = [x for x in all_d if x.status is DelegationStatus.SUCCESS]
            await transition(
                s,
                order_id,
                OrderStatus.DELEGATING,
                OrderStatus.ACTIVE,
                delegation_result=delegation_result(ok, pools),
                delegate_tx_hash=ok[0].tx_hash if ok else None,
                status_reason=None,
            )
            await s.refresh(order)
            await notify_order(
                s,
                order,
                "energy_delivered",
                {
                    "energy": delivered,
                    "transaction_count": order.transaction_count,
                    "tx_hashes": [x.tx_hash for x in ok],
                    "expires_at": max(x.expires_at for x in ok if x.expires_at).isoformat(),
                },
            )
            await s.commit()
            log.info("order %s active: %d energy to %s", order_id, delivered, order.target_address)
            return OrderStatus.ACTIVE.value

    async def _give_up(self, d: FlowDeps, order_id: str, reason: str) -> str:
        async with d.session_maker() as s:
            order = await s.get(Order, order_id)
            if order is None:
                return "missing"
            if await transition(
                s,
                order_id,
                (OrderStatus.DELEGATING, OrderStatus.PAID),
                OrderStatus.FAILED,
                status_reason=reason,
            ):
                await s.refresh(order)
                await notify_order(s, order, "order_failed", {"reason": reason})
                pay = (
                    await s.execute(
                        select(Payment).where(
                            Payment.order_id == order_id, Payment.tx_hash == order.tron_tx_hash
                        )
                    )
                ).scalar_one_or_none()
                if pay is not None:
                    # even after its excess was refunded: the refund job sends the rest, never
                    # more than was paid in total (see payment.refund)
                    pay.status = PaymentStatus.REFUNDING
                    pay.note = f"{pay.note or ''}; order failed: full refund".strip("; ")
                    enqueue_job(REFUND_JOB, pay.id)
            await s.commit()
            log.warning("order %s failed: %s", order_id, reason)
            return OrderStatus.FAILED.value

    # --- reclaim -----------------------------------------------------------------------------
    async def reclaim_order(self, d: FlowDeps, order_id: str) -> str:
        """Undelegate the order's energy once the chain's lock expired; then completed."""
        now = utcnow()
        async with d.session_maker() as s:
            order = await s.get(Order, order_id, with_for_update=True)
            if order is None:
                return "missing"
            if order.status is OrderStatus.ACTIVE:
                due = [
                    x
                    for x in await _delegations(s, order_id, (DelegationStatus.SUCCESS,))
                    if x.expires_at is not None and x.expires_at <= now
                ]
                if not due:
                    return "not_due"
                await transition(s, order_id, OrderStatus.ACTIVE, OrderStatus.RECLAIMING)
                await notify_order(s, order, "rental_ending", {})
            elif order.status is not OrderStatus.RECLAIMING:
                return order.status.value
            await s.commit()
        head = await d.chain.reference_block(d.rt.block_interval_ms / 1000)
        async with d.session_maker() as s:
            for x in await _delegations(s, order_id, (DelegationStatus.SUCCESS,)):
                pool = await s.get(EnergyPool, x.pool_account_id)
                if pool is None:
                    continue
                if await live_tx(s, purpose=ChainTxPurpose.UNDELEGATE, delegation_id=x.id):
                    continue
                records = await d.chain.get_delegated_resource(
                    pool.tron_address, x.recipient_address
                )
                locked_until = max(
                    (
                        r.energy_expire_time_ms
                        for r in records
                        if r.energy_locked_at(head.timestamp_ms)
                    ),
                    default=0,
                )
                if locked_until:
                    # the chain still locks it: a later locked delegation from this pool to this
                    # receiver reset the lock of the combined amount. Come back when the chain's
                    # lock ends (the sweeper picks it up then) instead of retrying until the
                    # dead letter; the customer's rental still ends now (the rest is a gift).
                    wait_ms = locked_until - head.timestamp_ms + d.rt.block_interval_ms
                    x.expires_at = now + timedelta(milliseconds=wait_ms)
                    x.error_message = (
                        f"locked on chain until {locked_until} ms (combined lock of a later "
                        "delegation to the same receiver); reclaim rescheduled"
                    )
                    continue
                tx = d.chain.build_undelegate_local(
                    head, pool.tron_address, x.recipient_address, x.balance_sun or 0
                )
                row = await sign_and_store(
                    s,
                    d.chain,
                    tx,
                    pool_key(d.box, pool),
                    purpose=ChainTxPurpose.UNDELEGATE,
                    owner=pool.tron_address,
                    to=x.recipient_address,
                    amount_sun=x.balance_sun,
                    order_id=order_id,
                    delegation_id=x.id,
                    pool_id=pool.id,
                )
                x.status = DelegationStatus.RECLAIMING
                x.undelegate_tx_hash = row.txid
            await s.commit()
        await self._deliver_live(d, order_id, ChainTxPurpose.UNDELEGATE)
        async with d.session_maker() as s:
            order = await s.get(Order, order_id, with_for_update=True)
            if order is None or order.status is not OrderStatus.RECLAIMING:
                return order.status.value if order else "missing"
            rest = await _delegations(
                s, order_id, (DelegationStatus.SUCCESS, DelegationStatus.RECLAIMING)
            )
            if rest:
                if all(
                    x.status is DelegationStatus.SUCCESS
                    and x.expires_at is not None
                    and x.expires_at > now
                    for x in rest
                ):
                    # rescheduled to the chain's combined lock: over for the customer now
                    await notify_order(s, order, "rental_ended", {})
                    await s.commit()
                    log.info("order %s: reclaim rescheduled to the chain's lock", order_id)
                    return "rescheduled"
                await s.commit()
                raise Retry(f"order {order_id}: {len(rest)} delegation(s) not reclaimed yet", 1.0)
            await transition(
                s, order_id, OrderStatus.RECLAIMING, OrderStatus.COMPLETED, completed_at=now
            )
            await s.refresh(order)
            await notify_order(s, order, "rental_ended", {})
            await s.commit()
        log.info("order %s completed (energy reclaimed)", order_id)
        return OrderStatus.COMPLETED.value


delegation = DelegationFlows()
