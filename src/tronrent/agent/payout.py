"""Payouts: an approved withdrawal is paid by ONE transfer, stored before broadcast.

The transfer (TRX, or a TRC20 USDT ``transfer``) goes from the refund account
(`delegation.transfer`, shared with refunds: the pool holding the key of the configured refund
address, the flash address by default), so the scanner, which
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
from tronrent.delegation.flows import FlowDeps
from tronrent.delegation.transfer import deliver_transfer, store_transfer
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
    return await store_transfer(
        session,
        d,
        ref,
        asset=w.currency,
        to=w.to_address,
        amount=w.payout_units,
        purpose=ChainTxPurpose.PAYOUT,
        withdrawal_id=w.id,
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
        if not await deliver_transfer(d, row, f"payout of withdrawal {withdrawal_id}"):
            return "broadcast"
    raise Retry(f"withdrawal {withdrawal_id}: payout still in progress", delay_s=d.rt.poll_s)


async def approved_withdrawals(session: AsyncSession, limit: int = 200) -> list[int]:
    rows = await session.execute(
        select(AgentWithdrawal.id)
        .where(AgentWithdrawal.status == WithdrawalStatus.APPROVED)
        .order_by(AgentWithdrawal.id)
        .limit(limit)
    )
    return [int(i) for (i,) in rows]
