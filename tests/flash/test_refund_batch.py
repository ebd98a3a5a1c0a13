"""Refunds without waiting for their block: the scanner confirms the transfers our refund
account sends (no per-refund polling), one job per block applies them; a refund the scanner
never saw completes through the sweeper's lookup."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from trondevnet.testing import funded_key
from tronproto.keys import PrivateKey
from tronrent.delegation import tasks as delegation_tasks
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.scanner.service import BlockScanner

from .conftest import TRX, Flash, FlashFactory, restart_engine, send_trx
from .test_rules import events, payment_of

PAID = 16 * TRX  # ten transactions (the cap: 15 TRX) and 1 TRX excess, refunded
EXCESS = 1 * TRX


def refunds_on_chain(f: Flash, customer: PrivateKey) -> list[tuple[int, int]]:
    """(block number, amount) of each successful TRX transfer from the flash address to the
    customer."""
    to = bytes.fromhex(customer.address_hex)
    frm = bytes.fromhex(f.pool_key.address_hex)
    return [
        (b.number, int(tx.value["amount"]))  # type: ignore[call-overload]
        for b in f.devnet.chain.blocks
        for tx in b.txs
        if tx.contract_type == "TransferContract"
        and tx.to == to
        and tx.owner == frm
        and not tx.failed
    ]


async def refund_rows(f: Flash, payment_id: int) -> list[ChainTransaction]:
    async with f.session_maker() as s:
        stmt = select(ChainTransaction).where(
            ChainTransaction.payment_id == payment_id,
            ChainTransaction.purpose.in_((ChainTxPurpose.REFUND, ChainTxPurpose.REFUND_REST)),
        )
        return list((await s.execute(stmt.order_by(ChainTransaction.id))).scalars())


class TestRefundsConfirmedByTheScanner:
    N = 5

    async def test_excess_payments_in_one_block_refunded_once_without_polling(
        self, flash: FlashFactory
    ) -> None:
        f = await flash(pool_kw={"stake_trx": 800_000})  # room for 5 orders of 10
        customers = [funded_key(f.devnet.chain, 100 * TRX) for _ in range(self.N)]
        f.devnet.node.counters.clear()
        f.devnet.node.paused = True  # all the payments in one block
        try:
            txids = [send_trx(f.devnet, c, f.address, PAID) for c in customers]
        finally:
            f.devnet.node.paused = False
        payments = [await payment_of(f, t, PaymentStatus.REFUNDED, wait_s=30) for t in txids]
        assert len({p.block_number for p in payments}) == 1
        requests = dict(f.devnet.node.counters)
        # broadcast once each, confirmed by the scanner in the blocks it reads: no polling
        assert "/wallet/gettransactioninfobyid" not in requests, requests
        for customer, p in zip(customers, payments, strict=True):
            [row] = await refund_rows(f, p.id)
            assert (row.status, row.amount_sun) == (ChainTxStatus.CONFIRMED, EXCESS)
            assert row.block_number is not None
            assert f"in tx {row.txid}" in (p.note or "")
            assert refunds_on_chain(f, customer) == [(row.block_number, EXCESS)]
        kinds = [e for e, _ in await events(f)]
        assert kinds.count("refund_sent") == self.N


class TestRefundWithoutTheScanner:
    async def test_completed_by_the_sweeper_lookup(
        self, flash: FlashFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(delegation_tasks, "STUCK_AFTER_S", 0.5)  # the rt's 3 s still apply
        f = await flash()
        # only the manual polls below read blocks
        engine = await restart_engine(f, run_scanner=False, periodic_speedup=5.0)
        assert engine.scanner_config is not None
        scanner = BlockScanner(f.gateway, f.session_maker, engine.scanner_config)
        customer = funded_key(f.devnet.chain, 100 * TRX)
        txid = send_trx(f.devnet, customer, f.address, PAID)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while True:  # the payment is recorded, then nobody reads blocks any more
            await scanner.poll()
            async with f.session_maker() as s:
                seen = await s.scalar(select(Payment.id).where(Payment.tx_hash == txid))
            if seen is not None:
                break
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        await scanner.release()
        p = await payment_of(f, txid, PaymentStatus.REFUNDING)
        while True:  # the job broadcasts the refund and ends
            rows = await refund_rows(f, p.id)
            if rows and rows[0].status is ChainTxStatus.BROADCAST:
                break
            assert loop.time() < deadline, rows
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        [row] = await refund_rows(f, p.id)
        assert row.status is ChainTxStatus.BROADCAST  # in a block by now, but nobody saw it
        assert refunds_on_chain(f, customer) == [(refunds_on_chain(f, customer)[0][0], EXCESS)]
        f.devnet.node.counters.clear()
        # the sweeper re-drives the payment once it is stale; the job looks the transfer up
        p = await payment_of(f, txid, PaymentStatus.REFUNDED, wait_s=30)
        assert f.devnet.node.counters["/wallet/gettransactioninfobyid"] >= 1
        [row] = await refund_rows(f, p.id)
        assert (row.status, row.amount_sun) == (ChainTxStatus.CONFIRMED, EXCESS)
        assert f"in tx {row.txid}" in (p.note or "")
        assert refunds_on_chain(f, customer) == [(row.block_number, EXCESS)]
        assert [e for e, _ in await events(f)].count("refund_sent") == 1
