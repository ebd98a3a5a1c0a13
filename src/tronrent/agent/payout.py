"""Payouts: an approved withdrawal is paid by ONE transfer, stored before broadcast.

The transfer (TRX, or a TRC20 USDT ``transfer``) goes from the refund account (the pool holding
the key of the configured refund address, the flash address by default), so the scanner, which
follows that address, sees it in its block and confirms it; the withdrawal then becomes
``paid``. The partial unique index ``uq_chain_transactions_live_payout`` allows one live
transfer per withdrawal, and the withdrawal's row lock orders the jobs: a retried, concurrent or
restarted job finds the stored transfer and delivers the same signed bytes (`chain_tx.deliver`
looks the txid up first), so a crash between storing and broadcasting pays exactly once. A
transfer that provably expired unsent, or failed, is replaced by a new one.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.port import BlockHeader
from tronrent.delegation.chain_tx import (
    Delivery,
    deliver,
    pool_key,
    record_delivery,
    sent_recently,
    sign_and_store,
)
from tronrent.delegation.flows import FlowDeps
from tronrent.kit.time import utcnow
from tronrent.models import Agent
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.chain_transaction import (
    LIVE_CHAIN_TX_STATUSES,
    ChainTransaction,
    ChainTxPurpose,
    ChainTxStatus,
)
from tronrent.models.common import Currency
from tronrent.order.service import order as order_service
from tronrent.payment.refund import USDT_REFUND_FEE_LIMIT_SUN, RefundAccountMissing
from tronrent.pool.service import pool as pool_service
from tronrent.worker import Retry

log = logging.getLogger("tronrent.agent")


async def _live_payout(session: AsyncSession, withdrawal_id: int) -> ChainTransaction | None:
    result = await session.execute(
        select(ChainTransaction).where(
            ChainTransaction.withdrawal_id == withdrawal_id,
            ChainTransaction.purpose == ChainTxPurpose.PAYOUT,
            ChainTransaction.status.in_(LIVE_CHAIN_TX_STATUSES),
        )
    )
    return result.scalar_one_or_none()


async def _build(
    session: AsyncSession, d: FlowDeps, ref: BlockHeader, w: AgentWithdrawal
) -> ChainTransaction:
    cfg = await order_service.config(session, d.rt)
    address = cfg.refund_address or d.rt.payment_address
    pool = await pool_service.get_by_address(session, address)
    if pool is None:
        raise RefundAccountMissing(f"no pool account holds the key of {address}")
    if w.currency is Currency.TRX:
        tx = d.chain.build_transfer_local(ref, address, w.to_address, w.payout_units)
    else:
        assert d.rt.usdt_contract is not None
        tx = d.chain.build_trc20_transfer_local(
            ref,
            address,
            d.rt.usdt_contract,
            w.to_address,
            w.payout_units,
            fee_limit_sun=USDT_REFUND_FEE_LIMIT_SUN,
        )
    return await sign_and_store(
        session,
        d.chain,
        tx,
        pool_key(d.box, pool),
        purpose=ChainTxPurpose.PAYOUT,
        owner=address,
        to=w.to_address,
        amount_sun=w.payout_units,
        withdrawal_id=w.id,
        pool_id=pool.id,
    )


async def _paid(session: AsyncSession, w: AgentWithdrawal, row: ChainTransaction) -> None:
    w.status = WithdrawalStatus.PAID
    w.txid = row.txid
    w.paid_at = utcnow()
    column = (
        Agent.withdrawn_amount_sun
        if w.currency is Currency.TRX
        else Agent.withdrawn_amount_usdt_units
    )
    await session.execute(
        update(Agent)
        .where(Agent.id == w.agent_id)
        .values({column: column + w.amount_units})
        .execution_options(synchronize_session=False)
    )
    log.info("withdrawal %s paid: %s", w.id, row.txid)


async def pay_withdrawal(d: FlowDeps, withdrawal_id: int) -> str:
    """Pay an approved withdrawal (see the module docstring); the state reached: ``paid``,
    ``broadcast`` (on its way: the scanner confirms it and runs this again), ``blocked`` (USDT
    without a configured contract: an operator pays it) or the withdrawal's status."""
    for _ in range(3):
        ref = await d.chain.reference_block(d.rt.block_interval_ms / 1000)
        async with d.session_maker() as s:
            w = await s.get(
                AgentWithdrawal, withdrawal_id, with_for_update=True, populate_existing=True
            )
            if w is None:
                return "missing"
            if w.status is not WithdrawalStatus.APPROVED:
                return w.status.value
            if w.currency is Currency.USDT and d.rt.usdt_contract is None:
                return "blocked"
            row = await _live_payout(s, withdrawal_id)
            if row is not None and row.status is ChainTxStatus.CONFIRMED:
                await _paid(s, w, row)
                await s.commit()
                return WithdrawalStatus.PAID.value
            if row is None:
                row = await _build(s, d, ref, w)
            await s.commit()
        if not await _deliver_payout(d, row):
            return "broadcast"
    raise Retry(f"withdrawal {withdrawal_id}: payout still in progress", delay_s=d.rt.poll_s)


async def _deliver_payout(d: FlowDeps, row: ChainTransaction) -> bool:
    """Bring the stored payout on its way; True if it is in a block already."""
    if sent_recently(row, d.rt.confirm_timeout_s):
        return False
    result = await deliver(
        d.chain, row, wait_s=0, poll_s=d.rt.poll_s, head_max_age_s=d.rt.block_interval_ms / 1000
    )
    async with d.session_maker() as s:
        await record_delivery(s, row.id, result)
        await s.commit()
    if result.status in (Delivery.FAILED, Delivery.EXPIRED):
        raise Retry(f"payout tx {row.txid} {result.status.value}: {result.error}; rebuilding")
    if result.status is Delivery.PENDING and result.error:
        raise Retry(f"payout tx {row.txid} not accepted yet: {result.error}", delay_s=d.rt.poll_s)
    return result.status is Delivery.CONFIRMED


async def approved_withdrawals(session: AsyncSession, limit: int = 200) -> list[int]:
    rows = await session.execute(
        select(AgentWithdrawal.id)
        .where(AgentWithdrawal.status == WithdrawalStatus.APPROVED)
        .order_by(AgentWithdrawal.id)
        .limit(limit)
    )
    return [int(i) for (i,) in rows]
