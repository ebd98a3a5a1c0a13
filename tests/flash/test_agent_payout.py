"""Agent withdrawals paid on the devnet: one stored transfer confirmed by the scanner; with the
engine killed -9 between storing and broadcasting, still paid exactly once on chain."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.helpers import CFG, chain_of, delivered_order, new_admin
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronproto.address import to_hex
from tronrent.agent.commission import record_commissions, settle_due
from tronrent.agent.payout import pay_withdrawal
from tronrent.agent.withdrawal import withdrawal as withdrawal_service
from tronrent.delegation.flows import FlowDeps
from tronrent.kit.db import transaction_scope
from tronrent.kit.time import utcnow
from tronrent.models import Agent
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.common import Currency

from .conftest import TRX, Flash, FlashFactory
from .test_processes import hand_over_to_worker, wait_stored


def payouts_on_chain(f: Flash, to: str) -> list[int]:
    """Amounts of the successful TRX transfers from the flash address to ``to``."""
    dest, owner = bytes.fromhex(to_hex(to)), bytes.fromhex(to_hex(f.address))
    return [
        int(tx.value["amount"])  # type: ignore[call-overload]
        for b in f.devnet.chain.blocks
        for tx in b.txs
        if tx.contract_type == "TransferContract"
        and tx.to == dest
        and tx.owner == owner
        and not tx.failed
    ]


async def approved_withdrawal(
    maker: async_sessionmaker[AsyncSession], to: str, amount: int
) -> tuple[Agent, int]:
    """An agent with 200 TRX of settled commission and a withdrawal of ``amount`` (approved at
    once up to 100 TRX)."""
    async with transaction_scope(maker) as s:
        (agent,), buyer = await chain_of(s, 1)
        order = await delivered_order(s, buyer, 2000 * TRX)
        await record_commissions(s, [order.id], CFG)
        await settle_due(s, CFG, now=utcnow() + timedelta(seconds=CFG.refund_window_s + 1))
        w = await withdrawal_service.request(
            s, agent.user_id, currency=Currency.TRX, amount_units=amount, to_address=to, cfg=CFG
        )
        return agent, w.id


async def wait_paid(f: Flash, withdrawal_id: int, wait_s: float = 180) -> AgentWithdrawal:
    """Until the withdrawal is paid (a generous limit: only a hang fails it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        async with f.session_maker() as s:
            w = await s.get(AgentWithdrawal, withdrawal_id)
            assert w is not None
            if w.status is WithdrawalStatus.PAID:
                return w
        assert loop.time() < deadline, f"withdrawal {withdrawal_id} is {w.status.value}"
        await asyncio.sleep(0.05)


async def assert_paid_once(f: Flash, withdrawal_id: int, payee: str, amount: int) -> None:
    """Paid exactly once, without waiting for anything: every transfer that could ever land
    was stored before its broadcast, so the stored rows are all the candidates. Exactly one is
    confirmed (and is the one on chain); any other was proven dead before it was replaced
    (``failed``, or ``expired``: its expiration passed with the chain not having it), so no
    later block can carry it."""
    async with f.session_maker() as s:
        rows = (
            (
                await s.execute(
                    select(ChainTransaction)
                    .where(ChainTransaction.withdrawal_id == withdrawal_id)
                    .order_by(ChainTransaction.id)
                )
            )
            .scalars()
            .all()
        )
    confirmed = [r for r in rows if r.status is ChainTxStatus.CONFIRMED]
    assert len(confirmed) == 1, [(r.txid, r.status) for r in rows]
    dead = (ChainTxStatus.FAILED, ChainTxStatus.EXPIRED)
    assert all(r.status in dead for r in rows if r is not confirmed[0])
    assert payouts_on_chain(f, payee) == [amount]
    on_chain = {tx.txid.hex() for b in f.devnet.chain.blocks for tx in b.txs}
    assert confirmed[0].txid in on_chain
    assert not {r.txid for r in rows if r.status in dead} & on_chain


class TestPayout:
    async def test_paid_once_and_confirmed_by_the_scanner(
        self,
        flash: FlashFactory,
        devnet: DevnetServer,
        session_maker: async_sessionmaker[AsyncSession],
    ) -> None:
        # made before the engine runs: its periodic sweep hands it to the payout job at start
        payee = funded_key(devnet.chain, 1 * TRX).address_base58
        agent, wid = await approved_withdrawal(session_maker, payee, 20 * TRX)
        f = await flash()
        w = await wait_paid(f, wid)
        d = FlowDeps(f.session_maker, f.gateway, f.box, f.engine.rt)
        await assert_paid_once(f, wid, payee, 19 * TRX)  # 20 less the 1 TRX fee
        async with f.session_maker() as s:
            row = (
                await s.execute(
                    select(ChainTransaction).where(ChainTransaction.withdrawal_id == wid)
                )
            ).scalar_one()
            assert (row.purpose, row.status, row.txid) == (
                ChainTxPurpose.PAYOUT,
                ChainTxStatus.CONFIRMED,
                w.txid,
            )
            fresh = await s.get(Agent, agent.id)
            assert fresh is not None and fresh.withdrawn_amount_sun == 20 * TRX
        assert await pay_withdrawal(d, wid) == "paid"


class TestSigkill:
    async def test_killed_between_store_and_broadcast_pays_once(
        self,
        flash: FlashFactory,
        database_url: str,
        devnet: DevnetServer,
        session_maker: async_sessionmaker[AsyncSession],
    ) -> None:
        payee = funded_key(devnet.chain, 1 * TRX).address_base58
        # above the auto-approve amount: waits for an operator, so no engine pays it yet
        _, wid = await approved_withdrawal(session_maker, payee, 101 * TRX)
        f = await flash()

        async def approve() -> None:  # while no engine runs: the new worker's first sweep pays
            async with transaction_scope(f.session_maker) as s:
                actor = await new_admin(s)
                await withdrawal_service.approve(s, wid, actor=actor, reason="known agent")

        proc = await hand_over_to_worker(f, database_url, before_spawn=approve)
        await wait_stored(f, ChainTxPurpose.PAYOUT, wait_s=60)  # broadcasts are slowed down
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        f.devnet.node.clear_faults()
        await f.engine.start()  # its periodic sweep hands the approved withdrawal to the job
        await wait_paid(f, wid)
        await assert_paid_once(f, wid, payee, 100 * TRX)
