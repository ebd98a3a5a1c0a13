"""Exactly once under faults: node errors/timeouts/429, downtime, forks - checked on chain."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from trondevnet.node import FaultRule
from trondevnet.testing import funded_key
from tronrent.flash.engine import FlashEngine
from tronrent.kit.db import read_only
from tronrent.models.order import OrderStatus
from tronrent.models.payment import Payment, PaymentStatus

from .conftest import TRX, Flash, FlashFactory, send_trx


def delegations_on_chain(f: Flash) -> dict[bytes, int]:
    """receiver (raw address) -> number of DelegateResourceContract txs in blocks."""
    out: dict[bytes, int] = {}
    for block in f.devnet.chain.blocks:
        for tx in block.txs:
            if tx.contract_type == "DelegateResourceContract" and tx.to is not None:
                out[tx.to] = out.get(tx.to, 0) + 1
    return out


async def wait_all(f: Flash, n: int, status: OrderStatus, wait_s: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        from tronrent.models.order import Order

        async with f.session_maker() as s:
            await read_only(s)
            statuses = (await s.execute(select(Order.status))).scalars().all()
        if sum(1 for x in statuses if x is status) >= n:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{statuses}\n{await f.debug()}")
        await asyncio.sleep(0.1)


class TestNodeFaults:
    async def test_every_order_delivered_once(self, flash: FlashFactory) -> None:
        f = await flash()
        f.devnet.node.set_fault(
            FaultRule(
                error_rate=0.04,
                rate_limit_rate=0.03,
                timeout_rate=0.03,
                retry_after=0,
                timeout_seconds=0.3,
            )
        )
        customers = [funded_key(f.devnet.chain, 100 * TRX) for _ in range(8)]
        for c in customers:
            send_trx(f.devnet, c, f.address, 3 * TRX)
        await wait_all(f, 8, OrderStatus.ACTIVE)
        f.devnet.node.clear_faults()
        on_chain = delegations_on_chain(f)
        assert all(on_chain.get(c.address) == 1 for c in customers), on_chain


class TestDowntime:
    async def test_payments_during_100_blocks_of_downtime(self, flash: FlashFactory) -> None:
        f = await flash()
        await f.engine.stop()
        customers = [funded_key(f.devnet.chain, 100 * TRX) for _ in range(5)]
        for c in customers:
            send_trx(f.devnet, c, f.address, 3 * TRX)
            f.devnet.node.produce(20)
        f.devnet.node.produce(5)
        engine = FlashEngine(
            session_maker=f.engine.session_maker,
            chain=f.engine.chain,
            box=f.engine.box,
            rt=f.engine.rt,
            scanner_config=f.engine.scanner_config,
            periodic_speedup=f.engine.periodic_speedup,
        )
        await engine.start()
        f.engine = engine
        try:
            await wait_all(f, 5, OrderStatus.ACTIVE)
        finally:
            await engine.stop()
        on_chain = delegations_on_chain(f)
        assert all(on_chain.get(c.address) == 1 for c in customers)


class TestFork:
    async def test_payment_of_a_vanished_block_is_orphaned(self, flash: FlashFactory) -> None:
        f = await flash()
        spammer = funded_key(f.devnet.chain, 10 * TRX)
        txid = send_trx(f.devnet, spammer, f.address, 1)  # dust: recorded, nothing delegated
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            async with f.session_maker() as s:
                p = (
                    await s.execute(select(Payment).where(Payment.tx_hash == txid))
                ).scalar_one_or_none()
            if p is not None and p.status is PaymentStatus.DUST:
                break
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        head = f.devnet.chain.head.number
        drop = head - p.block_number + 1
        f.devnet.chain.fork(drop=drop, exclude=[bytes.fromhex(txid)], produce=drop + 2)
        deadline = loop.time() + 10
        while True:
            async with f.session_maker() as s:
                p = (await s.execute(select(Payment).where(Payment.tx_hash == txid))).scalar_one()
            if p.status is PaymentStatus.ORPHANED:
                break
            assert loop.time() < deadline, p.status
            await asyncio.sleep(0.05)
        assert f.engine.scanner is not None and f.engine.scanner.stats.forks >= 1
