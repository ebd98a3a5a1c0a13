"""Delegate, reclaim: multi-step flows, each step its own committed transaction.

delegate_orders (a batch: the orders paid in one scanned block, or confirmed in one): lock the
orders, plan the pools, reserve, build + sign + STORE every delegation (commit) -> broadcast
them concurrently (no lock held) -> record (commit) -> the scanner sees them in a block -> the
orders become active (commit). A few statements per step for the whole batch, not per order.
A crash anywhere resumes from the stored rows: a stored transaction is delivered again (same
txid), never rebuilt unless provably expired. A rejected delegation releases its reservation;
its rejection is classified (delegation.rejection): refused by the pool, the next round picks
another pool; refused for the recipient's missing account, the recipient is activated first (a
stored TRX transfer the scanner confirms) or the order is refunded, as RECIPIENT_ACTIVATION says.

reclaim_orders (a batch: the sweeper's due rentals, or the undelegations confirmed in one
block): the same shape - orders become reclaiming (commit), every due undelegation is built,
signed and STORED (commit), broadcast concurrently without waiting for its block, the scanner
sees it in a block -> delegation expired, pool energy back, order completed (commit). The node
is asked about a lock only when another delegation on the same pool and receiver may extend it.

Every delegation and undelegation stored also gets its seed 001 ``energy_transactions`` row in
the same transaction, given its outcome where the delivery is recorded (delegation.record): one
more statement per batch, not per order.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.adapters.tron.errors import ChainUnavailable
from tronrent.adapters.tron.port import BlockHeader, ChainPort, SignedTx
from tronrent.delegation import record
from tronrent.delegation.chain_tx import (
    Delivery,
    DeliveryResult,
    deliver,
    insert_stored,
    pool_key,
    record_delivery,
    sent_recently,
    stored_row,
    stored_values,
)
from tronrent.delegation.rejection import (
    Rejection,
    RejectionReason,
    RejectionSide,
    classify_rejection,
)
from tronrent.kit.crypto import Secret, SecretBox
from tronrent.kit.db import after_commit
from tronrent.kit.metrics import ENERGY_DELEGATIONS, ORDER_PROCESSING_SECONDS
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import (
    LIVE_CHAIN_TX_STATUSES,
    ChainTransaction,
    ChainTxPurpose,
    ChainTxStatus,
)
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.energy_transaction import EnergyTransactionStatus, EnergyTransactionType
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.notification import alerts
from tronrent.order.notify import OrderEvent, notify_order, notify_orders
from tronrent.order.recipient import ACTIVATION_TRANSFER_SUN
from tronrent.order.runtime import FlashRuntime
from tronrent.order.state import move, transition
from tronrent.payment.balance_pay import refund_to_balance
from tronrent.pool.allocation import PoolCandidate, plan_allocation
from tronrent.pool.energy import BP_PER_UNIT, EnergyRatio, lock_period_blocks_for_ms
from tronrent.pool.service import pool as pool_service
from tronrent.user import totals
from tronrent.worker import Retry, enqueue_job

#: see tronrent.agent.tasks (by name: the agent domain does not import delegation's callers)
RECORD_COMMISSIONS_JOB = "agent.record_commissions"

log = logging.getLogger("tronrent.delegation")

LIVE = (DelegationStatus.PENDING, DelegationStatus.BROADCAST)
HOLDING = (*LIVE, DelegationStatus.SUCCESS)
REFUND_JOB = "payment.refund_payment"
#: the note of an orphaned payment whose order failed: not refunded unless it is back on chain
ORPHANED_FAILED_NOTE = "order failed while orphaned: refunded if its transaction is back on chain"
DELEGATE_JOB = "delegation.delegate_order"
RECLAIM_JOB = "delegation.reclaim_order"
#: broadcasts of one batch in flight at once
BROADCAST_CONCURRENCY = 4
#: state of an order whose recipient's account is being created (activation transfer stored,
#: on its way): the scanner confirms it in its block and the order is delegated then
ACTIVATING = "activating"

#: (pool id, receiver address): the delegations the chain keeps in one record, with one lock
_Pair = tuple[uuid.UUID, str]


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


_NOT_RECLAIMED = (DelegationStatus.SUCCESS, DelegationStatus.RECLAIMING)
#: orders whose due delegations end their rental (reclaiming, then completed); an order in any
#: other status has its delivered energy reclaimed when due, its status left as it is (see
#: `DelegationFlows._begin_reclaim`)
_RENTING = (OrderStatus.ACTIVE, OrderStatus.RECLAIMING)
#: `_begin_reclaim`'s state of an order in another status with delivered energy to reclaim
_LEFTOVER = "leftover"


def _count(s: AsyncSession, operation: str, result: str, n: int) -> None:
    """``tronrent_energy_delegations_total`` += n once the session commits."""
    if n:
        after_commit(s, ENERGY_DELEGATIONS.labels(operation=operation, result=result).inc, n)


def _count_failed_attempts(
    s: AsyncSession, operation: str, results: Sequence[tuple[ChainTransaction, DeliveryResult]]
) -> None:
    """Failures: a transaction the chain rejected or that expired unsent, and a broadcast no
    node accepted (it is retried; each refused attempt counts, so a failing node shows)."""
    failed = sum(
        1
        for _, r in results
        if r.status in (Delivery.FAILED, Delivery.EXPIRED)
        or (r.status is Delivery.PENDING and r.error)
    )
    _count(s, operation, "failure", failed)


def _observe_processing(s: AsyncSession, paid: Sequence[datetime | None], now: datetime) -> None:
    """Payment to delivery times of the orders made active, observed once the session commits."""
    for at in paid:
        if at is not None:
            after_commit(s, ORDER_PROCESSING_SECONDS.observe, (now - at).total_seconds())


def _block_of(row: ChainTransaction, result: DeliveryResult) -> int | None:
    """The block a delivered transaction is in: the scanner's, or the lookup's."""
    if row.block_number is not None:
        return row.block_number
    return result.info.block_number if result.info is not None else None


def _failed_outcome(row: ChainTransaction, result: DeliveryResult) -> record.Outcome:
    """The energy_transactions outcome of a transaction refused, failed in its block or expired
    unsent."""
    return record.Outcome(
        row.txid,
        EnergyTransactionStatus.FAILED,
        result.info.block_number if result.info is not None else None,
        error=result.error or f"{result.status.value} (never in a block)",
    )


async def _delegations_by_order(
    session: AsyncSession,
    order_ids: Collection[str],
    statuses: tuple[DelegationStatus, ...] | None = None,
) -> dict[str, list[EnergyDelegation]]:
    """The orders' delegations (oldest first), in one query."""
    stmt = select(EnergyDelegation).where(EnergyDelegation.order_id.in_(sorted(order_ids)))
    if statuses is not None:
        stmt = stmt.where(EnergyDelegation.status.in_(statuses))
    out: dict[str, list[EnergyDelegation]] = defaultdict(list)
    for x in (await session.execute(stmt.order_by(EnergyDelegation.id))).scalars():
        out[x.order_id].append(x)
    return out


async def _delegations(
    session: AsyncSession, order_id: str, statuses: tuple[DelegationStatus, ...] | None = None
) -> list[EnergyDelegation]:
    return (await _delegations_by_order(session, [order_id], statuses)).get(order_id, [])


async def _lock_orders(session: AsyncSession, order_ids: Collection[str]) -> list[Order]:
    """The orders, re-read and locked (in id order: two batches never deadlock)."""
    stmt = (
        select(Order)
        .where(Order.id.in_(sorted(order_ids)))
        .order_by(Order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars().all())


async def _lock_delegations(
    session: AsyncSession, ids: Collection[int], statuses: tuple[DelegationStatus, ...]
) -> list[EnergyDelegation]:
    """Those of the delegations still in ``statuses``, re-read and locked in id order."""
    stmt = (
        select(EnergyDelegation)
        .where(EnergyDelegation.id.in_(sorted(ids)), EnergyDelegation.status.in_(statuses))
        .order_by(EnergyDelegation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars().all())


@dataclass
class _Rejections:
    """An order's delegations the chain refused, by side (see delegation.rejection)."""

    #: pools that refused it for a reason of their own (another pool may succeed)
    pools: dict[str, RejectionReason] = field(default_factory=dict)
    #: the latest recipient-side refusal, and the id of its stored transaction
    recipient: Rejection | None = None
    recipient_tx_id: int = 0


async def _rejections(session: AsyncSession, order_ids: Collection[str]) -> dict[str, _Rejections]:
    """Per order, the delegations the chain rejected (or that failed in their block), classified.

    A delegation whose transaction merely expired unsent (a backlog, a crash) says nothing
    about the pool: it is rebuilt on the same pool - excluding it would leave an order on a
    single pool waiting for capacity forever. A transient rejection is retried with the same
    bytes (see chain_tx.deliver) and never gets here.
    """
    out: dict[str, _Rejections] = defaultdict(_Rejections)
    if not order_ids:
        return out
    rows = await session.execute(
        select(
            EnergyDelegation.order_id,
            EnergyDelegation.pool_account_id,
            ChainTransaction.id,
            ChainTransaction.last_error,
            ChainTransaction.owner_address,
            ChainTransaction.to_address,
        )
        .join(ChainTransaction, ChainTransaction.delegation_id == EnergyDelegation.id)
        .where(
            EnergyDelegation.order_id.in_(sorted(order_ids)),
            EnergyDelegation.status == DelegationStatus.FAILED,
            ChainTransaction.purpose == ChainTxPurpose.DELEGATE,
            ChainTransaction.status == ChainTxStatus.FAILED,
        )
        .order_by(ChainTransaction.id)
    )
    for order_id, pool_id, tx_id, error, owner, to in rows:
        r = classify_rejection(error, owner=owner, recipient=to)
        mine = out[order_id]
        if r.side is RejectionSide.RECIPIENT:
            mine.recipient, mine.recipient_tx_id = r, tx_id
        elif r.side is RejectionSide.POOL:
            mine.pools[str(pool_id)] = r.reason
        # transient: says nothing about either side; the same pool is planned again
    return out


async def _activations(
    session: AsyncSession, order_ids: Collection[str]
) -> dict[str, list[ChainTransaction]]:
    """Per order, its recipient activation transfers (oldest first)."""
    if not order_ids:
        return {}
    rows = await session.execute(
        select(ChainTransaction)
        .where(
            ChainTransaction.order_id.in_(sorted(order_ids)),
            ChainTransaction.purpose == ChainTxPurpose.ACTIVATE,
        )
        .order_by(ChainTransaction.id)
    )
    out: dict[str, list[ChainTransaction]] = defaultdict(list)
    for row in rows.scalars():
        if row.order_id is not None:
            out[row.order_id].append(row)
    return out


async def _pools_locking(session: AsyncSession, orders: Sequence[Order]) -> dict[str, set[str]]:
    """Per order, the pools with a live (locked) delegation to its recipient for another order."""
    recipients = {o.target_address or "" for o in orders}
    rows = (
        await session.execute(
            select(
                EnergyDelegation.recipient_address,
                EnergyDelegation.order_id,
                EnergyDelegation.pool_account_id,
            )
            .where(
                EnergyDelegation.recipient_address.in_(sorted(recipients)),
                EnergyDelegation.status.in_((*HOLDING, DelegationStatus.RECLAIMING)),
            )
            .distinct()
        )
    ).all()
    return {
        o.id: {str(pool) for r, oid, pool in rows if r == o.target_address and oid != o.id}
        for o in orders
    }


async def _stored_txs(
    d: FlowDeps,
    order_ids: Collection[str],
    purpose: ChainTxPurpose,
    delegation_statuses: tuple[DelegationStatus, ...],
) -> list[ChainTransaction]:
    """The orders' stored transactions of ``purpose`` still able to land (signed, broadcast,
    or seen in a block by the scanner) whose delegation is in ``delegation_statuses``."""
    async with d.session_maker() as s:
        rows = await s.execute(
            select(ChainTransaction)
            .join(EnergyDelegation, EnergyDelegation.id == ChainTransaction.delegation_id)
            .where(
                ChainTransaction.order_id.in_(sorted(order_ids)),
                ChainTransaction.purpose == purpose,
                ChainTransaction.status.in_(LIVE_CHAIN_TX_STATUSES),
                EnergyDelegation.status.in_(delegation_statuses),
            )
            .order_by(ChainTransaction.id)
        )
        found = list(rows.scalars().all())
        await s.commit()
    return found


async def _broadcast(
    d: FlowDeps,
    rows: Sequence[ChainTransaction],
    *,
    head: BlockHeader | None = None,
    leave_recent: bool = True,
    retry_unsent: bool = False,
) -> list[DeliveryResult | None]:
    """Broadcast the stored ``rows`` concurrently (``BROADCAST_CONCURRENCY`` at a time) without
    waiting for their block; one result per row. One the scanner saw in a block already is
    confirmed with no node call; with ``leave_recent``, one sent less than ``confirm_timeout_s``
    ago is left on its way (None). All are judged against one head block (``head``, else the
    reference block read once here): a batch costs one head read however long its broadcasts
    take. ``retry_unsent``: one no node took (unreachable, busy) is tried again at once, waiting
    up to ``confirm_timeout_s`` for its block."""
    block_s = d.rt.block_interval_ms / 1000

    def to_send(row: ChainTransaction) -> bool:
        return row.status is not ChainTxStatus.CONFIRMED and not (
            leave_recent and sent_recently(row, d.rt.confirm_timeout_s)
        )

    if head is None and any(to_send(r) for r in rows):
        with suppress(ChainUnavailable):  # else each delivery reads it, reports the node down
            head = await d.chain.reference_block(block_s)
    gate = asyncio.Semaphore(BROADCAST_CONCURRENCY)

    async def one(row: ChainTransaction) -> DeliveryResult | None:
        if row.status is ChainTxStatus.CONFIRMED:
            return DeliveryResult(Delivery.CONFIRMED)  # seen in a block by the scanner
        if not to_send(row):
            return None
        async with gate:
            result = await deliver(
                d.chain, row, wait_s=0, poll_s=d.rt.poll_s, head_max_age_s=block_s, head=head
            )
        if retry_unsent and result.status is Delivery.PENDING and result.error:
            result = await deliver(d.chain, row, wait_s=d.rt.confirm_timeout_s, poll_s=d.rt.poll_s)
        return result

    return list(await asyncio.gather(*(one(r) for r in rows)))


def _less(candidate: PoolCandidate, energy: int) -> PoolCandidate:
    """The candidate after `energy` more was planned on it in this batch."""
    daily = candidate.daily_remaining_sun
    return replace(
        candidate,
        available_sun=candidate.available_sun - energy,
        daily_remaining_sun=None if daily is None else daily - energy,
    )


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


@dataclass(frozen=True, slots=True)
class _GiveUp:
    """Why an order fails (and is refunded): the text kept on the order, and the reason code
    the customer's message is translated from (``reason.<code>`` in notification.messages)."""

    text: str
    code: str | None = None


def _recipient_step(
    rt: FlashRuntime, order: Order, rej: _Rejections, activations: Sequence[ChainTransaction]
) -> tuple[str, str | None]:
    """What the recipient's side asks of an order about to be planned: "plan" (nothing),
    "activate" (create its account first: the policy activates, and a delegation was refused
    for a missing account, or create-order found none and quoted the fee), "wait" (an
    activation is on its way) or "give_up" with the reason code (a recipient that cannot
    receive, the policy refunds, or activating failed)."""
    confirmed = [a for a in activations if a.status is ChainTxStatus.CONFIRMED]
    r = rej.recipient
    if r is not None:
        if r.reason is not RejectionReason.RECIPIENT_NOT_ACTIVATED:
            return "give_up", r.reason.value
        if not rt.activates_recipients:
            return "give_up", r.reason.value
        if any(a.id > rej.recipient_tx_id for a in confirmed):
            return "plan", None  # activated since the refusal
        if confirmed:  # refused again after its activation: nothing more to try
            return "give_up", r.reason.value
    elif not (order.activation_fee_sun and rt.activates_recipients) or confirmed:
        return "plan", None
    if any(a.status in (ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST) for a in activations):
        return "wait", None
    if sum(1 for a in activations if a.status is ChainTxStatus.FAILED) >= rt.max_pool_attempts:
        return "give_up", "activation_failed"
    return "activate", None


_RECIPIENT_TEXT = {
    RejectionReason.RECIPIENT_NOT_ACTIVATED.value: "the recipient {address} has no account on "
    "chain (not activated)",
    RejectionReason.RECIPIENT_IS_CONTRACT.value: "the recipient {address} is a contract",
    RejectionReason.RECIPIENT_IS_OWNER.value: "the recipient {address} is the pool itself",
    RejectionReason.RECIPIENT_INVALID.value: "the recipient {address} is not a valid address",
    "activation_failed": "activating the recipient {address} failed",
}


def _recipient_give_up(code: str | None, order: Order) -> _GiveUp:
    text = _RECIPIENT_TEXT.get(code or "", "the recipient {address} cannot receive energy")
    return _GiveUp(text.format(address=order.target_address or "-"), code)


@dataclass
class _Signed:
    """A delegation planned, built and signed in a batch, before it is stored."""

    order: Order
    pool: EnergyPool
    energy: int
    balance_sun: int
    lock_period: int
    tx: SignedTx


class DelegationFlows:
    # --- delegate -----------------------------------------------------------------------------
    async def delegate_order(self, d: FlowDeps, order_id: str) -> str:
        """Bring one order's energy on chain; returns the order status reached."""
        return (await self.delegate_orders(d, [order_id]))[order_id]

    async def delegate_orders(self, d: FlowDeps, order_ids: Sequence[str]) -> dict[str, str]:
        """Bring the orders' energy on chain as one batch; order id -> state reached.

        Three steps, each its own transaction with a few statements for the whole batch:
        prepare (lock the orders, plan the pools, reserve, build + sign + STORE every
        delegation, commit), deliver (broadcast the stored transactions concurrently, no lock
        held; record), settle (orders whose delegations the scanner saw in a block become
        active). "broadcast": on its way; the scanner sees it in a block and runs this again
        (the sweeper if that never happens). A rejected delegation releases its reservation
        and the next round plans the order on another pool.
        """
        ids = list(dict.fromkeys(order_ids))
        reached: dict[str, str] = {}
        waiting: list[str] = []
        unsent: str | None = None
        todo = ids
        for _ in range(d.rt.max_pool_attempts + 1):
            prepared, stored = await self._prepare(d, todo)
            waiting += [oid for oid in todo if prepared[oid] == "waiting"]
            reached.update(prepared)
            activating = [oid for oid in todo if prepared[oid] == ACTIVATING]
            unsent = await self._deliver_activations(d, activating) or unsent
            ready = [oid for oid in todo if prepared[oid] == "deliver"]
            settled, error = await self._deliver(d, ready, stored)
            unsent = unsent or error
            reached.update({oid: "broadcast" for oid in ready if oid not in settled})
            states = await self._settle(d, settled)
            reached.update(states)
            todo = [oid for oid in settled if states[oid] == "again"]
            if not todo:
                break
        for oid in todo:
            reached[oid] = await self._give_up(d, oid, _GiveUp("no pool could delegate the energy"))
        if unsent is not None:
            # not accepted by a node yet (down, busy, or an expiry to decide): retry the job
            # soon rather than leave it to the sweeper
            raise Retry(f"delegation not accepted by a node yet: {unsent}", d.rt.poll_s)
        if waiting and len(waiting) == len(ids):
            raise Retry(f"no pool capacity for {len(waiting)} order(s)", delay_s=5.0)
        return reached

    async def _prepare(
        self, d: FlowDeps, order_ids: Sequence[str]
    ) -> tuple[dict[str, str], dict[str, list[ChainTransaction]]]:
        """Lock the orders; plan, sign and store the delegations of those that need one.

        Order id -> "deliver" (stored transactions to deliver, or enough energy delivered),
        "waiting" (no pool capacity: back to paid, customer told), "activating" (the
        recipient's account is being created first, see `_recipient_step`), or the status it
        is in; and order id -> the delegation transactions stored here (committed: the only
        live ones of those orders, which had none).
        """
        states = dict.fromkeys(order_ids, "missing")
        stored: dict[str, list[ChainTransaction]] = defaultdict(list)
        if not order_ids:
            return states, stored
        block_s = d.rt.block_interval_ms / 1000
        ratio = await energy_ratio(d.chain, d.rt.payment_address, block_s)
        ref = await d.chain.reference_block(block_s)
        give_up: dict[str, _GiveUp] = {}
        async with d.session_maker() as s:
            open_orders: list[Order] = []
            for order in await _lock_orders(s, order_ids):
                if order.status is OrderStatus.PAID:
                    move(order, OrderStatus.DELEGATING)
                elif order.status is not OrderStatus.DELEGATING:
                    states[order.id] = order.status.value
                    continue
                open_orders.append(order)
            # every delegation of the orders in one read: those holding energy, and whether
            # any failed (only then are its rejections read)
            theirs = await _delegations_by_order(s, [o.id for o in open_orders])
            failed = {
                o
                for o, xs in theirs.items()
                if any(x.status is DelegationStatus.FAILED for x in xs)
            }
            short: list[tuple[Order, int]] = []
            for order in open_orders:
                mine = [x for x in theirs.get(order.id, []) if x.status in HOLDING]
                need = (order.energy_amount or 0) - sum(x.energy_amount for x in mine)
                if need > 0 and not any(x.status in LIVE for x in mine):
                    short.append((order, need))
                else:
                    states[order.id] = "deliver"  # to deliver, or settled already
            if short:
                rows = await self._plan_and_store(s, d, short, failed, ratio, ref, states, give_up)
                for row in rows:
                    stored[row.order_id or ""].append(row)
            await s.commit()
        for oid, why in give_up.items():
            states[oid] = await self._give_up(d, oid, why)
        return states, stored

    async def _plan_and_store(
        self,
        s: AsyncSession,
        d: FlowDeps,
        short: Sequence[tuple[Order, int]],
        failed: Collection[str],
        ratio: EnergyRatio,
        ref: BlockHeader,
        states: dict[str, str],
        give_up: dict[str, _GiveUp],
    ) -> list[ChainTransaction]:
        """Plan, sign and store the delegations of the ``short`` orders (with the energy each
        still needs); ``failed``: those of them with a failed delegation (rejections read).
        The delegation transactions stored (their ids set when the session flushes)."""
        rejected = await _rejections(s, [o.id for o, _ in short if o.id in failed])
        # only orders with a recipient to activate cost a query (none in the common case)
        activations = await _activations(
            s,
            [
                o.id
                for o, _ in short
                if o.activation_fee_sun or (o.id in rejected and rejected[o.id].recipient)
            ],
        )
        locking = await _pools_locking(s, [o for o, _ in short])
        active = await pool_service.list_pools(s, active_only=True)
        pools = {str(p.id): p for p in active}
        candidates = {c.pool_id: c for c in pool_service.candidates_of(active)}
        # a second locked delegation from the same pool to the same receiver resets the lock
        # of the whole amount (FACTS.md): prefer another pool, also within this batch
        planned_to: dict[str, set[str]] = defaultdict(set)
        keys: dict[str, Secret] = {}
        signed: list[_Signed] = []
        waiting: list[tuple[Order, int, str]] = []
        to_activate: list[Order] = []
        for order, need in short:
            rej = rejected.get(order.id) or _Rejections()
            step, why = _recipient_step(d.rt, order, rej, activations.get(order.id, []))
            if step == "give_up":
                give_up[order.id] = _recipient_give_up(why, order)
                continue
            if step in ("wait", "activate"):
                states[order.id] = ACTIVATING
                if step == "activate":
                    to_activate.append(order)
                continue
            failed = set(rej.pools)
            if len(failed) > d.rt.max_pool_attempts or (pools and set(pools) <= failed):
                codes = ", ".join(sorted({r.value for r in rej.pools.values()}))
                give_up[order.id] = _GiveUp(
                    f"delegation refused by every pool tried ({codes})", "pools_refused"
                )
                continue
            recipient = order.target_address or ""
            usable = [c for pool_id, c in candidates.items() if pool_id not in failed]
            busy = locking[order.id] | planned_to[recipient]
            plan = plan_allocation(need, usable, exclude=busy, unit_sun=1)
            if busy and not plan.is_complete:
                plan = plan_allocation(need, usable, unit_sun=1)
            if not plan.is_complete:
                why = plan.status.value
                if failed:  # the truth: some pools refused it, the others lack capacity
                    codes = ", ".join(sorted({r.value for r in rej.pools.values()}))
                    why += f"; refused by {len(failed)} pool(s): {codes}"
                waiting.append((order, need, why))
                continue
            # an order whose energy is topped up by undelegating it (a count package) asks
            # for no lock: a locked delegation cannot be undelegated before its lock ends
            unlocked = bool((order.price_config or {}).get("unlocked"))
            lock = (
                0
                if unlocked
                else lock_period_blocks_for_ms(
                    d.rt.rental_ms(order.duration_hours), d.rt.block_interval_ms
                )
            )
            for part in plan.parts:
                candidates[part.pool_id] = _less(candidates[part.pool_id], part.amount_sun)
                planned_to[recipient].add(part.pool_id)
                pool = pools[part.pool_id]
                if part.pool_id not in keys:
                    keys[part.pool_id] = pool_key(d.box, pool)
                balance = stake_for(ratio, part.amount_sun, d.rt.margin_bp)
                tx = d.chain.build_delegate_local(
                    ref,
                    pool.tron_address,
                    recipient,
                    balance,
                    lock=lock > 0,
                    lock_period=lock,
                    permission_id=pool.permission_id or 0,
                )
                signed.append(
                    _Signed(
                        order,
                        pool,
                        part.amount_sun,
                        balance,
                        lock,
                        d.chain.sign(tx, keys[part.pool_id].reveal()),
                    )
                )
            states[order.id] = "deliver"
        await self._store_activations(s, d, ref, to_activate, keys, give_up, states)
        # built and signed locally (no I/O): the pool rows are locked only from here to commit
        reserve: Counter[uuid.UUID] = Counter()
        for x in signed:
            reserve[x.pool.id] += x.energy
        for pool_id, energy in sorted(reserve.items()):
            if not await pool_service.reserve(s, pool_id, energy):
                await s.rollback()
                raise Retry("pool capacity changed while reserving; planning again", 0.01)
        delegations = [
            EnergyDelegation(
                order_id=x.order.id,
                pool_account_id=x.pool.id,
                recipient_address=x.order.target_address or "",
                energy_amount=x.energy,
                balance_sun=x.balance_sun,
                duration_hours=x.order.duration_hours,
                lock_period=x.lock_period,
                tx_hash=x.tx.txid,
                status=DelegationStatus.PENDING,
            )
            for x in signed
        ]
        s.add_all(delegations)
        await s.flush()
        txs = [
            stored_row(
                x.tx,
                purpose=ChainTxPurpose.DELEGATE,
                owner=x.pool.tron_address,
                to=x.order.target_address,
                amount_sun=x.balance_sun,
                order_id=x.order.id,
                delegation_id=delegation.id,
                pool_id=x.pool.id,
            )
            for x, delegation in zip(signed, delegations, strict=True)
        ]
        s.add_all(txs)
        await record.add(
            s,
            [
                record.entry(
                    EnergyTransactionType.DELEGATE,
                    order_id=x.order.id,
                    pool_id=x.pool.id,
                    from_address=x.pool.tron_address,
                    to_address=x.order.target_address or "",
                    energy=x.energy,
                    duration_hours=x.order.duration_hours,
                    tx_hash=x.tx.txid,
                )
                for x in signed
            ],
        )
        events = []
        for order, need, why in waiting:
            move(
                order,
                OrderStatus.PAID,
                status_reason=f"waiting for pool capacity ({why}, {need} energy needed)",
            )
            states[order.id] = "waiting"
            events.append((order, "waiting_for_energy", {"energy": need}))
        await notify_orders(s, events)
        if waiting and len(waiting) < len(states):
            # the rest of the batch goes on; these try again in a job of their own (which
            # retries with a delay while no pool has capacity)
            enqueue_job(DELEGATE_JOB, *(o.id for o, _, _ in waiting))
        return txs

    async def _store_activations(
        self,
        s: AsyncSession,
        d: FlowDeps,
        ref: BlockHeader,
        orders: Sequence[Order],
        keys: dict[str, Secret],
        give_up: dict[str, _GiveUp],
        states: dict[str, str],
    ) -> None:
        """Build, sign and add (this transaction stores them) the transfers that create the
        recipients' accounts, from the flash address's pool account; customers told. At most
        one live activation per order (a partial unique index): never two transfers."""
        if not orders:
            return
        pool = await pool_service.get_by_address(s, d.rt.payment_address)
        if pool is None or pool.delegate_only:  # a delegate-only key cannot send TRX
            for order in orders:
                give_up[order.id] = _GiveUp(
                    f"no pool account holds the key of {d.rt.payment_address} to activate "
                    f"{order.target_address}",
                    "activation_failed",
                )
            return
        pool_id = str(pool.id)
        if pool_id not in keys:
            keys[pool_id] = pool_key(d.box, pool)
        events: list[OrderEvent] = []
        for order in orders:
            recipient = order.target_address or ""
            tx = d.chain.build_transfer_local(
                ref, pool.tron_address, recipient, ACTIVATION_TRANSFER_SUN
            )
            s.add(
                stored_row(
                    d.chain.sign(tx, keys[pool_id].reveal()),
                    purpose=ChainTxPurpose.ACTIVATE,
                    owner=pool.tron_address,
                    to=recipient,
                    amount_sun=ACTIVATION_TRANSFER_SUN,
                    order_id=order.id,
                    pool_id=pool.id,
                )
            )
            order.status_reason = f"activating the recipient {recipient} (no account on chain)"
            events.append(
                (
                    order,
                    "recipient_activating",
                    {"recipient": recipient, "fee_sun": order.activation_fee_sun},
                )
            )
            states[order.id] = ACTIVATING
        await notify_orders(s, events)
        log.info("activating %d recipient(s) before their delegation", len(orders))

    async def _deliver_activations(self, d: FlowDeps, order_ids: Sequence[str]) -> str | None:
        """Broadcast the orders' stored activation transfers without waiting for their block
        (the scanner confirms them and runs the delegation again); the error of one no node
        accepted, or that the chain refused (the job retries: a new one is built, up to
        ``max_pool_attempts``), if any."""
        if not order_ids:
            return None
        async with d.session_maker() as s:
            rows = list(
                (
                    await s.execute(
                        select(ChainTransaction).where(
                            ChainTransaction.order_id.in_(sorted(order_ids)),
                            ChainTransaction.purpose == ChainTxPurpose.ACTIVATE,
                            ChainTransaction.status.in_(
                                (ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST)
                            ),
                        )
                    )
                )
                .scalars()
                .all()
            )
            await s.commit()
        found = await _broadcast(d, rows)
        results = [(row, r) for row, r in zip(rows, found, strict=True) if r is not None]
        error: str | None = None
        async with d.session_maker() as s:
            for row, r in results:
                await record_delivery(s, row.id, r)
                if r.status is Delivery.CONFIRMED:
                    if row.order_id:
                        enqueue_job(DELEGATE_JOB, row.order_id)  # found by a lookup
                elif r.status is Delivery.FAILED or (r.status is Delivery.PENDING and r.error):
                    error = error or f"activation {row.txid}: {r.error or r.status.value}"
                elif r.status is Delivery.EXPIRED:
                    error = error or f"activation {row.txid} expired unsent; building another"
            await s.commit()
        return error

    async def _deliver(
        self,
        d: FlowDeps,
        order_ids: Sequence[str],
        stored: Mapping[str, list[ChainTransaction]],
    ) -> tuple[list[str], str | None]:
        """Deliver the orders' stored live delegations, concurrently and with no lock held.

        Delegations are broadcast without waiting for their block (the scanner confirms them,
        see scanner/service.py); one the scanner already confirmed is applied without a node
        call. ``stored``: the transactions the prepare step just stored, per order - when
        every order has them (the common case) they are those to deliver, with no read.
        Returns the orders with nothing left in flight (to settle) and the error of a
        transaction no node accepted, if any.
        """
        if not order_ids:
            return [], None
        if all(stored.get(oid) for oid in order_ids):
            rows = sorted((r for oid in order_ids for r in stored[oid]), key=lambda r: r.id)
        else:
            rows = await _stored_txs(d, order_ids, ChainTxPurpose.DELEGATE, LIVE)
        found = await _broadcast(d, rows, leave_recent=False, retry_unsent=True)
        results = [(row, r) for row, r in zip(rows, found, strict=True) if r is not None]
        async with d.session_maker() as s:
            await self._record(s, d, results)
            await s.commit()
        in_flight = {row.order_id for row, r in results if r.status is Delivery.PENDING}
        unsent = next(
            (r.error for _, r in results if r.status is Delivery.PENDING and r.error), None
        )
        return [oid for oid in order_ids if oid not in in_flight], unsent

    async def _record(
        self,
        s: AsyncSession,
        d: FlowDeps,
        results: Sequence[tuple[ChainTransaction, DeliveryResult]],
    ) -> None:
        """Write the delivery results on the stored transactions and their delegations."""
        _count_failed_attempts(s, "delegate", results)
        sent = [row for row, r in results if r.status is Delivery.PENDING]
        for row, r in results:
            if r.status is Delivery.PENDING and r.error:
                await record_delivery(s, row.id, r)  # keeps its error
        await record_delivery(
            s,
            [row.id for row, r in results if r.status is Delivery.PENDING and not r.error],
            DeliveryResult(Delivery.PENDING),
        )
        if sent:
            await s.execute(
                update(EnergyDelegation)
                .where(
                    EnergyDelegation.id.in_(
                        sorted({r.delegation_id for r in sent if r.delegation_id})
                    ),
                    EnergyDelegation.status.in_(LIVE),
                )
                .values(status=DelegationStatus.BROADCAST)
                .execution_options(synchronize_session=False)
            )
        for row, r in results:
            if r.status is Delivery.CONFIRMED and row.status is not ChainTxStatus.CONFIRMED:
                await record_delivery(s, row.id, r)  # found by a lookup, not by the scanner
        await self._confirm(
            s,
            d,
            {
                row.delegation_id: _block_of(row, r)
                for row, r in results
                if r.status is Delivery.CONFIRMED and row.delegation_id
            },
        )
        for row, r in results:
            if r.status in (Delivery.FAILED, Delivery.EXPIRED):
                await record_delivery(s, row.id, r)
                await self._failed(s, row, r)

    async def _confirm(
        self, s: AsyncSession, d: FlowDeps, blocks: Mapping[int, int | None]
    ) -> None:
        """The delegations (id -> the block they are in) are in a block: success, their rental
        starts now; the pools' reservations become delegated energy (one UPDATE per pool); their
        energy_transactions rows confirmed (one executemany)."""
        if not blocks:
            return
        rows = await _lock_delegations(s, blocks, LIVE)
        _count(s, "delegate", "success", len(rows))
        now = utcnow()
        per_pool: dict[uuid.UUID, tuple[int, int]] = {}
        for x in rows:
            x.status = DelegationStatus.SUCCESS
            x.delegated_at = now
            x.expires_at = now + timedelta(milliseconds=d.rt.rental_ms(x.duration_hours))
            energy, count = per_pool.get(x.pool_account_id, (0, 0))
            per_pool[x.pool_account_id] = (energy + x.energy_amount, count + 1)
        for pool_id, (energy, count) in sorted(per_pool.items()):
            await pool_service.confirm(s, pool_id, energy, count)
        await record.settle(
            s,
            [
                record.Outcome(
                    x.tx_hash, EnergyTransactionStatus.CONFIRMED, blocks[x.id], x.expires_at
                )
                for x in rows
                if x.tx_hash
            ],
        )

    async def _failed(self, s: AsyncSession, row: ChainTransaction, result: DeliveryResult) -> None:
        """A delegation the chain rejected (or that expired unsent): release its reservation."""
        await record.settle(s, [_failed_outcome(row, result)])
        delegation = await s.get(EnergyDelegation, row.delegation_id, with_for_update=True)
        if delegation is None or delegation.status not in LIVE:
            return
        delegation.status = DelegationStatus.FAILED
        delegation.error_message = (result.error or result.status.value)[:1000]
        rejection = classify_rejection(
            result.error, owner=row.owner_address, recipient=row.to_address
        )
        # only a refusal of the pool's own making counts against the pool
        pool_side = result.status is Delivery.FAILED and rejection.side is RejectionSide.POOL
        await pool_service.release(
            s, delegation.pool_account_id, delegation.energy_amount, failed=pool_side
        )
        if result.status is Delivery.FAILED:
            delegation.error_message = f"{rejection.reason.value}: {delegation.error_message}"[
                :1000
            ]
        if not pool_side:
            return  # the recipient's side (activation policy) or an expiry: nothing to alert
        failing_pool = await s.get(EnergyPool, delegation.pool_account_id)
        await alerts.delegation_failing(
            s,
            delegation_id=delegation.id,
            order_id=delegation.order_id,
            pool_address=failing_pool.tron_address if failing_pool else None,
            error=delegation.error_message,
            attempts=len(await _delegations(s, delegation.order_id, (DelegationStatus.FAILED,))),
        )

    async def _settle(self, d: FlowDeps, order_ids: Sequence[str]) -> dict[str, str]:
        """Orders whose delegations are all in a block and cover their energy become active.

        Order id -> "active", "again" (a delegation failed: energy still missing), "broadcast"
        (something still in flight) or the status it is in.
        """
        states = dict.fromkeys(order_ids, "missing")
        if not order_ids:
            return states
        async with d.session_maker() as s:
            orders = [
                o for o in await _lock_orders(s, order_ids) if o.status is OrderStatus.DELEGATING
            ]
            states.update({o.id: o.status.value for o in orders})
            delegations = await _delegations_by_order(s, [o.id for o in orders])
            pool_ids = {x.pool_account_id for xs in delegations.values() for x in xs}
            pools: dict[Any, str] = dict(
                (
                    await s.execute(
                        select(EnergyPool.id, EnergyPool.tron_address).where(
                            EnergyPool.id.in_(sorted(pool_ids))
                        )
                    )
                ).all()
            )
            events = []
            for order in orders:
                all_d = delegations.get(order.id, [])
                ok = [x for x in all_d if x.status is DelegationStatus.SUCCESS]
                delivered = sum(x.energy_amount for x in ok)
                if any(x.status in LIVE for x in all_d):
                    states[order.id] = "broadcast"
                    continue
                if delivered < (order.energy_amount or 0):
                    states[order.id] = "again"
                    continue
                ends_at = max(x.expires_at for x in ok if x.expires_at)
                move(
                    order,
                    OrderStatus.ACTIVE,
                    delegation_result=delegation_result(ok, pools),
                    delegate_tx_hash=ok[0].tx_hash if ok else None,
                    status_reason=None,
                    # from now on the order expires when its rental does (it was the end of
                    # the payment window): a count package's or an auto top-up's lifetime,
                    # which their pause / resume / idle steps read
                    expires_at=ends_at,
                )
                states[order.id] = OrderStatus.ACTIVE.value
                events.append(
                    (
                        order,
                        "energy_delivered",
                        {
                            "energy": delivered,
                            "transaction_count": order.transaction_count,
                            "tx_hashes": [x.tx_hash for x in ok if x.tx_hash],
                            "ends_at": ends_at.isoformat(),
                            "duration_s": d.rt.rental_ms(order.duration_hours) // 1000,
                        },
                    )
                )
            await notify_orders(s, events)
            _observe_processing(s, [order.paid_at for order, _, _ in events], utcnow())
            sold = [order.id for order, _, _ in events if order.user_id is not None]
            if sold:  # the agents above the buyers earn their commission (agent.commission)
                enqueue_job(RECORD_COMMISSIONS_JOB, *sold)
            # last before the commit: it locks the buyers' rows, which their next orders'
            # balance debits wait for (`balance_pay.mark_unsaved_paid`)
            await totals.orders_delivered(s, [order for order, _, _ in events])
            await s.commit()
        for order, _, payload in events:
            log.info(
                "order %s active: %d energy to %s",
                order.id,
                payload["energy"],
                order.target_address,
            )
        return states

    async def _give_up(self, d: FlowDeps, order_id: str, why: _GiveUp) -> str:
        reason = why.text
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
                await notify_order(s, order, "order_failed", {"reason": why.code or reason})
                if await refund_to_balance(s, order, reason=why.code or reason):
                    await s.commit()  # paid from the balance: back to it, never on chain
                    log.warning("order %s failed (refunded to the balance): %s", order_id, reason)
                    return OrderStatus.REFUNDED.value
                pay = (
                    await s.execute(
                        select(Payment)
                        .where(Payment.order_id == order_id, Payment.tx_hash == order.tron_tx_hash)
                        # locked: a restore of an orphaned payment (the scanner) is decided
                        # before or after this, never beside it
                        .with_for_update()
                    )
                ).scalar_one_or_none()
                if pay is not None and pay.status is PaymentStatus.ORPHANED:
                    # its block left the chain: we may never receive that TRX. No refund now;
                    # if its transaction comes back, the scanner's restore makes it refunding
                    # (payment.repository.restore_orphaned_many)
                    pay.note = f"{pay.note or ''}; {ORPHANED_FAILED_NOTE}".strip("; ")
                    log.warning(
                        "order %s failed with its payment %s orphaned: refunded only if its "
                        "transaction is back on chain",
                        order_id,
                        pay.id,
                    )
                elif pay is not None:
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
        """Undelegate one order's energy once its rental is over; returns the state reached."""
        return (await self.reclaim_orders(d, [order_id]))[order_id]

    async def reclaim_orders(self, d: FlowDeps, order_ids: Sequence[str]) -> dict[str, str]:
        """Undelegate the orders' energy as one batch; order id -> state reached.

        Four steps, each its own transaction with a few statements for the whole batch: begin
        (orders whose rental is over become reclaiming; which due delegations may share a chain
        lock), store (build + sign + STORE every undelegation, commit), deliver (broadcast them
        concurrently with no lock held, without waiting for their block; apply those the scanner
        saw in a block), end (orders with everything reclaimed are completed). "broadcast": on
        its way; the scanner sees it in a block and runs this again (the sweeper if that never
        happens). The node is asked about a delegation's lock only when another delegation from
        the same pool to the same receiver may have extended it.
        """
        ids = list(dict.fromkeys(order_ids))
        now = utcnow()
        states, due, shared = await self._begin_reclaim(d, ids, now)
        reclaiming = [oid for oid in ids if states[oid] in ("reclaiming", _LEFTOVER)]
        head: BlockHeader | None = None  # one head read per batch: built from, delivered with
        if due:
            head = await d.chain.reference_block(d.rt.block_interval_ms / 1000)
            locks = await self._chain_locks(d, shared, head)
            await self._store_undelegations(d, reclaiming, due, shared, locks, head, now)
        unsent = await self._deliver_undelegations(d, reclaiming, head)
        states.update(await self._end_reclaim(d, reclaiming, unsent, now, batch=len(ids)))
        again = [oid for oid in ids if states[oid] == "again"]
        if again and len(again) == len(ids):
            # a rejected undelegation (the chain's lock not over yet), one no node accepted yet,
            # or a lock the node could not tell: the job retries soon (alone in a batch: see
            # _end_reclaim)
            raise Retry(f"{len(again)} order(s) not reclaimed yet", 1.0)
        return states

    async def _begin_reclaim(
        self, d: FlowDeps, order_ids: Sequence[str], now: datetime
    ) -> tuple[dict[str, str], set[int], dict[_Pair, str]]:
        """Active orders with a due delegation become reclaiming (customer told).

        An order in any other status (failed, refunded, paid, delegating, ...) holding a
        delivered delegation that is due - a part of a split order delivered before the order
        gave up, or waits for the rest - has it reclaimed too, its status left as it is and its
        customer not told: state "leftover" (also while its undelegation is on its way).

        Returns the states (reclaiming orders: "reclaiming"), the ids of their due delegations,
        and the (pool, receiver) pairs whose lock the node must be asked about (see
        `_sharing_a_lock`), with the pool's address.
        """
        states = dict.fromkeys(order_ids, "missing")
        if not order_ids:
            return states, set(), {}
        async with d.session_maker() as s:
            orders: list[Order] = []
            others: list[Order] = []
            for order in await _lock_orders(s, order_ids):
                if order.status in _RENTING:
                    orders.append(order)
                else:
                    states[order.id] = order.status.value
                    others.append(order)
            success = await _delegations_by_order(
                s, [o.id for o in orders], (DelegationStatus.SUCCESS,)
            )
            due: list[EnergyDelegation] = []
            if others:  # none in the common case: no query
                theirs = await _delegations_by_order(
                    s,
                    [o.id for o in others],
                    (DelegationStatus.SUCCESS, DelegationStatus.RECLAIMING),
                )
                for order in others:
                    xs = theirs.get(order.id, [])
                    mine = [
                        x
                        for x in xs
                        if x.status is DelegationStatus.SUCCESS
                        and x.expires_at is not None
                        and x.expires_at <= now
                    ]
                    if mine or any(x.status is DelegationStatus.RECLAIMING for x in xs):
                        states[order.id] = _LEFTOVER
                        due += mine
            events: list[OrderEvent] = []
            for order in orders:
                mine = [
                    x
                    for x in success.get(order.id, [])
                    if x.expires_at is not None and x.expires_at <= now
                ]
                if order.status is OrderStatus.ACTIVE:
                    if not mine:
                        states[order.id] = "not_due"
                        continue
                    # the customer was told ahead (notification.reminders); now it is over
                    move(order, OrderStatus.RECLAIMING)
                states[order.id] = "reclaiming"
                due += mine
            await notify_orders(s, events)
            shared = await _sharing_a_lock(s, due)
            await s.commit()
        return states, {x.id for x in due}, shared

    async def _chain_locks(
        self, d: FlowDeps, pairs: dict[_Pair, str], head: BlockHeader
    ) -> dict[_Pair, int]:
        """Per (pool, receiver): until when (ms) the chain still locks the delegations, 0 if it
        does not; a pair the node could not tell about is left out (tried again later)."""
        gate = asyncio.Semaphore(BROADCAST_CONCURRENCY)

        async def one(pair: _Pair, pool_address: str) -> int | None:
            try:
                async with gate:
                    records = await d.chain.get_delegated_resource(pool_address, pair[1])
            except ChainUnavailable as exc:
                log.warning("lock of %s -> %s unknown: %s", pool_address, pair[1], exc)
                return None
            return max(
                (r.energy_expire_time_ms for r in records if r.energy_locked_at(head.timestamp_ms)),
                default=0,
            )

        found = await asyncio.gather(*(one(p, a) for p, a in pairs.items()))
        return {p: until for p, until in zip(pairs, found, strict=True) if until is not None}

    async def _store_undelegations(
        self,
        d: FlowDeps,
        order_ids: Sequence[str],
        due: set[int],
        shared: dict[_Pair, str],
        locks: dict[_Pair, int],
        head: BlockHeader,
        now: datetime,
    ) -> None:
        """Build, sign and store an undelegation for every due delegation of the (reclaiming)
        orders that has none live yet, in one transaction; the delegations become reclaiming.
        One still locked on chain by a later delegation is rescheduled to the end of that lock
        instead (the customer's rental still ends now: the rest is a gift). An order in another
        status (a leftover, see `_begin_reclaim`) is undelegated alike, unless it became active
        meanwhile (its rental's end reclaims it then)."""
        if not order_ids:
            return
        async with d.session_maker() as s:
            locked = [
                o for o in await _lock_orders(s, order_ids) if o.status is not OrderStatus.ACTIVE
            ]
            orders = [o.id for o in locked]
            leftover = {o.id: o.status for o in locked if o.status not in _RENTING}
            todo = [
                x
                for xs in (
                    await _delegations_by_order(s, orders, (DelegationStatus.SUCCESS,))
                ).values()
                for x in xs
                if x.id in due and x.expires_at is not None and x.expires_at <= now
            ]
            if not todo:
                await s.commit()
                return
            live: dict[int | None, str] = dict(
                (
                    await s.execute(
                        select(ChainTransaction.delegation_id, ChainTransaction.txid).where(
                            ChainTransaction.delegation_id.in_(sorted(x.id for x in todo)),
                            ChainTransaction.purpose == ChainTxPurpose.UNDELEGATE,
                            ChainTransaction.status.in_(LIVE_CHAIN_TX_STATUSES),
                        )
                    )
                ).all()
            )
            pools = {
                p.id: p
                for p in (
                    await s.execute(
                        select(EnergyPool).where(
                            EnergyPool.id.in_(sorted({x.pool_account_id for x in todo}))
                        )
                    )
                ).scalars()
            }
            keys: dict[uuid.UUID, Secret] = {}
            rows: list[dict[str, Any]] = []
            entries: list[dict[str, Any]] = []
            for x in todo:
                if (txid := live.get(x.id)) is not None:
                    # stored already (e.g. found in a block after a rejection was recorded):
                    # follow that one - never a second undelegation of the same delegation
                    x.status = DelegationStatus.RECLAIMING
                    x.undelegate_tx_hash = txid
                    continue
                pair = (x.pool_account_id, x.recipient_address)
                if pair in shared:
                    if pair not in locks:
                        continue  # the node could not tell: the job retries
                    if locked_until := locks[pair]:
                        # the chain still locks it: a later locked delegation from this pool to
                        # this receiver reset the lock of the combined amount. Come back when
                        # the chain's lock ends (the sweeper picks it up then) instead of
                        # retrying until the dead letter.
                        wait_ms = locked_until - head.timestamp_ms + d.rt.block_interval_ms
                        x.expires_at = now + timedelta(milliseconds=wait_ms)
                        x.error_message = (
                            f"locked on chain until {locked_until} ms (combined lock of a later "
                            "delegation to the same receiver); reclaim rescheduled"
                        )
                        continue
                pool = pools.get(x.pool_account_id)
                if pool is None:
                    continue
                if pool.id not in keys:
                    keys[pool.id] = pool_key(d.box, pool)
                tx = d.chain.build_undelegate_local(
                    head,
                    pool.tron_address,
                    x.recipient_address,
                    x.balance_sun or 0,
                    permission_id=pool.permission_id or 0,
                )
                signed = d.chain.sign(tx, keys[pool.id].reveal())
                rows.append(
                    stored_values(
                        signed,
                        purpose=ChainTxPurpose.UNDELEGATE,
                        owner=pool.tron_address,
                        to=x.recipient_address,
                        amount_sun=x.balance_sun,
                        order_id=x.order_id,
                        delegation_id=x.id,
                        pool_id=pool.id,
                    )
                )
                entries.append(
                    record.of_delegation(EnergyTransactionType.UNDELEGATE, x, pool, signed.txid)
                )
                x.status = DelegationStatus.RECLAIMING
                x.undelegate_tx_hash = signed.txid
                if x.order_id in leftover:
                    log.info(
                        "order %s (%s): undelegating its delivered part from pool %s (due)",
                        x.order_id,
                        leftover[x.order_id].value,
                        pool.tron_address,
                    )
            await s.flush()  # the delegations first, then the rows naming them
            await insert_stored(s, rows)
            await record.add(s, entries)
            await s.commit()

    async def _deliver_undelegations(
        self, d: FlowDeps, order_ids: Sequence[str], head: BlockHeader | None
    ) -> set[str]:
        """Deliver the orders' stored undelegations, concurrently and with no lock held, without
        waiting for their block (the scanner confirms them); one the scanner confirmed already
        is applied without a node call, one broadcast less than ``confirm_timeout_s`` ago is
        left on its way. ``head``: the block they were built from, if just read (the expiry
        verdict's head). Returns the orders with an undelegation no node accepted yet."""
        if not order_ids:
            return set()
        rows = await _stored_txs(
            d, order_ids, ChainTxPurpose.UNDELEGATE, (DelegationStatus.RECLAIMING,)
        )
        if not rows:
            return set()
        found = await _broadcast(d, rows, head=head)
        results = [(row, r) for row, r in zip(rows, found, strict=True) if r is not None]
        if results:
            async with d.session_maker() as s:
                await self._record_undelegations(s, results)
                await s.commit()
        return {
            row.order_id
            for row, r in results
            if r.status is Delivery.PENDING and r.error and row.order_id
        }

    async def _record_undelegations(
        self, s: AsyncSession, results: Sequence[tuple[ChainTransaction, DeliveryResult]]
    ) -> None:
        """Write the delivery results (one UPDATE per distinct result) and apply the final ones:
        reclaimed (in a block) -> expired, the pools' energy back (one UPDATE per pool);
        rejected (the chain's lock not over) or expired unsent -> success again, retried."""
        _count_failed_attempts(s, "undelegate", results)
        by_result: dict[DeliveryResult, list[int]] = defaultdict(list)
        for row, r in results:
            if not (r.status is Delivery.CONFIRMED and row.status is ChainTxStatus.CONFIRMED):
                by_result[r].append(row.id)
        for r, ids in by_result.items():
            await record_delivery(s, ids, r)
        await record.settle(
            s,
            [
                record.Outcome(row.txid, EnergyTransactionStatus.CONFIRMED, _block_of(row, r))
                if r.status is Delivery.CONFIRMED
                else _failed_outcome(row, r)
                for row, r in results
                if r.status is not Delivery.PENDING
            ],
        )
        final = {
            row.delegation_id: r
            for row, r in results
            if r.status is not Delivery.PENDING and row.delegation_id is not None
        }
        if not final:
            return
        delegations = await _lock_delegations(s, final, (DelegationStatus.RECLAIMING,))
        now = utcnow()
        reclaimed: Counter[uuid.UUID] = Counter()
        for x in delegations:
            r = final[x.id]
            if r.status is Delivery.CONFIRMED:
                x.status = DelegationStatus.EXPIRED
                x.reclaimed_at = now
                reclaimed[x.pool_account_id] += x.energy_amount
                _count(s, "undelegate", "success", 1)
            else:
                # refused (the lock not over yet: transient; anything else named by its side)
                # or expired unsent: success again, undelegated again later
                x.status = DelegationStatus.SUCCESS
                why = r.error or r.status.value
                if r.status is Delivery.FAILED:
                    side = classify_rejection(r.error, recipient=x.recipient_address)
                    why = f"{side.reason.value}: {why}"
                x.error_message = why[:1000]
        for pool_id, energy in sorted(reclaimed.items()):
            await pool_service.reclaimed(s, pool_id, energy)

    async def _end_reclaim(
        self,
        d: FlowDeps,
        order_ids: Sequence[str],
        unsent: set[str],
        now: datetime,
        *,
        batch: int,
    ) -> dict[str, str]:
        """Orders with every delegation reclaimed are completed.

        Order id -> "completed"; "rescheduled" (only delegations the chain still locks are
        left: the rental is over for the customer); "again" (a delegation to undelegate again:
        rejected, or not accepted by a node yet - a job of their own retries these unless they
        are the whole ``batch``, which the caller retries); "broadcast" (undelegations on their
        way); or the status it is in. Only a reclaiming order is completed: a leftover (see
        `_begin_reclaim`) keeps its status, which is its state once nothing due is left.
        """
        states: dict[str, str] = {}
        if not order_ids:
            return states
        async with d.session_maker() as s:
            orders = []
            others = []
            for order in await _lock_orders(s, order_ids):
                states[order.id] = order.status.value
                if order.status is OrderStatus.RECLAIMING:
                    orders.append(order)
                elif order.status is not OrderStatus.ACTIVE:
                    others.append(order)
            every = await _delegations_by_order(
                s,
                [o.id for o in (*orders, *others)],
                (DelegationStatus.SUCCESS, DelegationStatus.RECLAIMING, DelegationStatus.EXPIRED),
            )
            for order in others:
                xs = every.get(order.id, [])
                if order.id in unsent or any(
                    x.status is DelegationStatus.SUCCESS
                    and x.expires_at is not None
                    and x.expires_at <= now
                    for x in xs
                ):
                    states[order.id] = "again"
                elif any(x.status is DelegationStatus.RECLAIMING for x in xs):
                    states[order.id] = "broadcast"
            events: list[OrderEvent] = []
            rescheduled = []
            for order in orders:
                mine = [x for x in every.get(order.id, []) if x.status in _NOT_RECLAIMED]
                waiting = [x for x in mine if x.status is DelegationStatus.SUCCESS]
                ended = {
                    "duration_s": d.rt.rental_ms(order.duration_hours) // 1000,
                    "tx_hashes": [
                        x.undelegate_tx_hash
                        for x in every.get(order.id, [])
                        if x.status is DelegationStatus.EXPIRED and x.undelegate_tx_hash
                    ],
                }
                if not mine:
                    move(order, OrderStatus.COMPLETED, completed_at=utcnow())
                    states[order.id] = OrderStatus.COMPLETED.value
                    events.append((order, "rental_ended", ended))
                elif len(waiting) == len(mine) and all(
                    x.expires_at is not None and x.expires_at > now for x in waiting
                ):
                    # rescheduled to the chain's combined lock: over for the customer now (no
                    # reclaim transaction yet: the notice has no transaction line)
                    states[order.id] = "rescheduled"
                    rescheduled.append(order.id)
                    events.append((order, "rental_ended", ended))
                elif order.id in unsent or any(
                    x.expires_at is None or x.expires_at <= now for x in waiting
                ):
                    states[order.id] = "again"
                else:
                    states[order.id] = "broadcast"
            await notify_orders(s, events)
            again = [oid for oid in order_ids if states.get(oid) == "again"]
            if again and len(again) < batch:
                # the rest of the batch goes on; these try again in a job of their own
                enqueue_job(RECLAIM_JOB, *again)
            await s.commit()
        for oid in rescheduled:
            log.info("order %s: reclaim rescheduled to the chain's lock", oid)
        done = sum(1 for st in states.values() if st == OrderStatus.COMPLETED.value)
        if done:
            log.info("%d order(s) completed (energy reclaimed)", done)
        return states


async def _sharing_a_lock(
    session: AsyncSession, due: Sequence[EnergyDelegation]
) -> dict[_Pair, str]:
    """The (pool, receiver) pairs of ``due`` delegations that another delegation from the same
    pool to the same receiver - newer, or not in a block yet - may still lock on chain: a later
    locked delegation resets the lock of the combined amount (FACTS.md). Pair -> pool address.

    One query, and the node is asked only about these pairs: in the common case a delegation's
    own lock is the only one on its pair, and it ended by its ``expires_at`` (the lock counts
    from its block, the rental from its confirmation after it).
    """
    if not due:
        return {}
    rows = (
        await session.execute(
            select(
                EnergyDelegation.id,
                EnergyDelegation.pool_account_id,
                EnergyDelegation.recipient_address,
                EnergyDelegation.status,
            ).where(
                EnergyDelegation.pool_account_id.in_(sorted({x.pool_account_id for x in due})),
                EnergyDelegation.recipient_address.in_(sorted({x.recipient_address for x in due})),
                EnergyDelegation.status.in_((*HOLDING, DelegationStatus.RECLAIMING)),
            )
        )
    ).all()
    on_pair: dict[_Pair, list[tuple[int, DelegationStatus]]] = defaultdict(list)
    for id_, pool_id, recipient, status in rows:
        on_pair[(pool_id, recipient)].append((id_, status))
    pairs: set[_Pair] = set()
    for x in due:
        pair = (x.pool_account_id, x.recipient_address)
        if any(
            other != x.id and (other > x.id or status in LIVE) for other, status in on_pair[pair]
        ):
            pairs.add(pair)
    if not pairs:
        return {}
    addresses: dict[uuid.UUID, str] = dict(
        (
            await session.execute(
                select(EnergyPool.id, EnergyPool.tron_address).where(
                    EnergyPool.id.in_(sorted({pool_id for pool_id, _ in pairs}))
                )
            )
        ).all()
    )
    return {pair: addresses[pair[0]] for pair in pairs if pair[0] in addresses}


delegation = DelegationFlows()
