"""Refunds around orphaned payments, on a devnet the test forks by hand (the scanner polled and
the jobs run by the test, one step at a time), checked on chain:

- a payment owed a refund (a late payment for an expired order) whose block leaves the chain
  before the refund was built comes back ``refunding`` when its transaction is included again,
  and is refunded once;
- an order failing while its payment is orphaned (its transaction not included again) refunds
  nothing - we may never get that TRX - until the transaction is back on chain: then the whole
  payment, once;
- a payment confirmed by the customer (confirm-payment) is taken only with the configured
  confirmations on top of it, and recorded with its block's id: a fork rewind over its height
  orphans it only if that block left the chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, new_key, submit
from tronproto.address import to_hex
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.delegation.flows import ORPHANED_FAILED_NOTE, FlowDeps, _GiveUp, delegation
from tronrent.kit.crypto import SecretBox
from tronrent.kit.time import utcnow
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.payment.confirm import PaymentNotConfirmed, PaymentNotOnChain, confirm_payment
from tronrent.payment.refund import pending_refunds, refund_payment
from tronrent.payment.service import payment as payment_service
from tronrent.scanner.service import BlockScanner, ScannerConfig
from tronrent.worker import PendingJob, job_scope

from .conftest import BLOCK_MS, TRX, add_pool

REFUND_JOB = "payment.refund_payment"


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    """Blocks only when the test produces them."""
    async with DevnetServer(port=0, block_interval_ms=BLOCK_MS, produce_blocks=False) as server:
        yield server


async def _drop(job: PendingJob) -> None:
    pass


@dataclass
class World:
    devnet: DevnetServer
    session_maker: async_sessionmaker[AsyncSession]
    d: FlowDeps
    scanner: BlockScanner
    jobs: list[PendingJob] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.d.rt.payment_address

    async def poll(self, times: int = 3) -> None:
        async def keep(job: PendingJob) -> None:
            self.jobs.append(job)

        for _ in range(times):
            async with job_scope(keep):
                await self.scanner.poll()

    async def process(self, tx_hash: str) -> Payment:
        p = await self.payment(tx_hash)

        async def keep(job: PendingJob) -> None:
            self.jobs.append(job)

        async with job_scope(keep), self.session_maker() as s:
            await payment_service.process_many(s, self.d.rt, [p.id])
            await s.commit()
        return await self.payment(tx_hash)

    async def payment(self, tx_hash: str) -> Payment:
        async with self.session_maker() as s:
            return (await s.execute(select(Payment).where(Payment.tx_hash == tx_hash))).scalar_one()

    async def order(self, order_id: str) -> Order:
        async with self.session_maker() as s:
            order = await s.get(Order, order_id)
            assert order is not None
            return order

    def refund_jobs(self, payment_id: int) -> int:
        return sum(1 for j in self.jobs if j.name == REFUND_JOB and payment_id in j.args)

    async def refund(self, payment_id: int) -> str:
        """The refund job until the payment is settled: build + broadcast, then the scanner
        confirms the transfer in its block and the job applies it."""
        async with job_scope(_drop):
            state = await refund_payment(self.d, payment_id)
        for _ in range(5):
            if state != "broadcast":
                return state
            self.devnet.produce()
            await self.poll(1)
            async with job_scope(_drop):
                state = await refund_payment(self.d, payment_id)
        return state

    def fork(self, block_number: int, *, exclude: tuple[str, ...] = ()) -> None:
        """The blocks from ``block_number`` on are replaced by a longer branch; the dropped
        blocks' transactions are in it unless excluded."""
        drop = self.devnet.chain.head.number - block_number + 1
        self.devnet.chain.fork(
            drop=drop, exclude=[bytes.fromhex(t) for t in exclude], produce=drop + 1
        )


@pytest.fixture
async def world(
    devnet: DevnetServer,
    gateway: TronGateway,
    session_maker: async_sessionmaker[AsyncSession],
    box: SecretBox,
) -> AsyncIterator[World]:
    _, pool = await add_pool(session_maker, devnet, gateway, box)
    rt = FlashRuntime(
        payment_address=pool.tron_address, block_interval_ms=BLOCK_MS, confirm_timeout_s=3.0
    )
    scanner = BlockScanner(
        gateway,
        session_maker,
        ScannerConfig(
            start_block=devnet.chain.head.number,
            block_interval_s=BLOCK_MS / 1000,
            fixed_addresses=frozenset({pool.tron_address}),
            own_addresses=frozenset({pool.tron_address}),  # it confirms our refunds
        ),
    )
    yield World(devnet, session_maker, FlowDeps(session_maker, gateway, box, rt), scanner)
    await scanner.release()


def pay(w: World, customer: PrivateKey, amount: int) -> tuple[str, object]:
    rec = submit(
        w.devnet.chain,
        customer,
        "TransferContract",
        {"to_address": to_hex(w.address), "amount": amount},
    )
    w.devnet.produce()
    txid = rec.txid.hex() if isinstance(rec.txid, bytes) else str(rec.txid)
    return txid, rec


def refunds_on_chain(w: World, customer: PrivateKey) -> list[int]:
    """The amounts of the successful TRX transfers from the flash address to ``customer``."""
    to = bytes.fromhex(customer.address_hex)
    frm = bytes.fromhex(to_hex(w.address))
    return [
        int(tx.value["amount"])  # type: ignore[call-overload]
        for b in w.devnet.chain.blocks
        for tx in b.txs
        if tx.contract_type == "TransferContract"
        and tx.to == to
        and tx.owner == frm
        and not tx.failed
    ]


async def new_order(w: World, *, expired: bool) -> Order:
    async with w.session_maker() as s:
        order, _ = await order_service.create_order(
            s, w.d.rt, recipient_address=new_key().address_base58, chat_id=7
        )
        if expired:  # an hour ago: a payment now is late, past the grace, refunded
            order.status = OrderStatus.EXPIRED
            order.expires_at = utcnow() - timedelta(hours=1)
        await s.commit()
        return order


class TestRefundOwedWhenOrphaned:
    async def test_restored_refunding_and_refunded_once(self, world: World) -> None:
        w = world
        order = await new_order(w, expired=True)
        customer = funded_key(w.devnet.chain, 100 * TRX)
        w.devnet.produce()
        await w.poll()
        txid, _ = pay(w, customer, order.expected_amount_units)
        await w.poll()
        p = await w.process(txid)
        assert (p.status, p.order_id) == (PaymentStatus.REFUNDING, order.id)
        block_id, jobs = p.block_id, w.refund_jobs(p.id)  # the payment job sent one
        # the block leaves the chain before the refund job ran; the transaction is included
        # again in the new branch
        w.fork(p.block_number)
        await w.poll()
        assert w.scanner.stats.forks >= 1 and w.scanner.stats.orphaned >= 1
        p = await w.payment(txid)
        assert p.block_id != block_id  # seen again, in the new branch's block
        assert (p.status, p.status_before_orphan) == (PaymentStatus.REFUNDING, None)
        assert w.refund_jobs(p.id) == jobs + 1  # sent again by the restore
        async with w.session_maker() as s:
            assert p.id in await pending_refunds(s, limit=10_000)
        assert await w.refund(p.id) == PaymentStatus.REFUNDED.value
        assert await w.refund(p.id) == PaymentStatus.REFUNDED.value  # a retried job: nothing
        assert refunds_on_chain(w, customer) == [order.expected_amount_units]  # all of it
        assert (await w.order(order.id)).status is OrderStatus.EXPIRED


class TestOrderFailsWhileItsPaymentIsOrphaned:
    async def test_no_refund_until_the_transaction_is_back(self, world: World) -> None:
        w = world
        order = await new_order(w, expired=False)
        customer = funded_key(w.devnet.chain, 100 * TRX)
        w.devnet.produce()
        await w.poll()
        txid, rec = pay(w, customer, order.expected_amount_units)
        await w.poll()
        p = await w.process(txid)
        assert p.status is PaymentStatus.MATCHED
        assert (await w.order(order.id)).status is OrderStatus.PAID
        # a fork takes the payment away for good (not included in the new branch)
        w.fork(p.block_number, exclude=(txid,))
        await w.poll()
        p = await w.payment(txid)
        assert (p.status, p.status_before_orphan) == (
            PaymentStatus.ORPHANED,
            PaymentStatus.MATCHED,
        )
        # the delegation fails (no pool could delegate): the order fails, nothing is refunded
        async with job_scope(_drop) as buf:
            state = await delegation._give_up(
                w.d, order.id, _GiveUp("no pool could delegate the energy")
            )
            assert not [j for j in buf.pending + buf.ready if j.name == REFUND_JOB]
        assert state == OrderStatus.FAILED.value
        assert (await w.order(order.id)).status is OrderStatus.FAILED
        p = await w.payment(txid)
        assert p.status is PaymentStatus.ORPHANED
        assert ORPHANED_FAILED_NOTE in (p.note or "")
        async with w.session_maker() as s:
            assert p.id not in await pending_refunds(s, limit=10_000)
        assert await w.refund(p.id) == PaymentStatus.ORPHANED.value  # a job run anyway
        w.devnet.produce(2)
        await w.poll()
        assert refunds_on_chain(w, customer) == []
        # the same signed transaction is included after all: now we got the TRX, all back
        w.devnet.chain.broadcast(rec.raw, list(rec.signatures))  # type: ignore[attr-defined]
        w.devnet.produce()
        await w.poll()
        p = await w.payment(txid)
        assert p.status is PaymentStatus.REFUNDING
        assert w.refund_jobs(p.id) == 1
        assert await w.refund(p.id) == PaymentStatus.REFUNDED.value
        assert refunds_on_chain(w, customer) == [order.expected_amount_units]
        assert (await w.order(order.id)).status is OrderStatus.REFUNDED


class TestConfirmedByTheCustomer:
    CONFIRMATIONS = 3

    async def confirm(self, w: World, order_id: str, txid: str) -> str:
        rt = replace(w.d.rt, confirmations=self.CONFIRMATIONS)
        async with job_scope(_drop), w.session_maker() as s:
            done = await confirm_payment(s, rt, w.d.chain, order_id=order_id, tx_hash=txid)
            await s.commit()
        return done.status

    async def test_only_deep_enough_and_with_its_block_id(self, world: World) -> None:
        w = world
        order = await new_order(w, expired=False)
        customer = funded_key(w.devnet.chain, 100 * TRX)
        w.devnet.produce()
        await w.poll()
        # not in a block yet
        rec = submit(
            w.devnet.chain,
            customer,
            "TransferContract",
            {"to_address": to_hex(w.address), "amount": order.expected_amount_units},
        )
        txid = rec.txid.hex() if isinstance(rec.txid, bytes) else str(rec.txid)
        with pytest.raises(PaymentNotOnChain) as caught:
            await self.confirm(w, order.id, txid)
        assert caught.value.code == "TX_NOT_FOUND"
        w.devnet.produce()  # in the head block
        block = w.devnet.chain.head
        for depth in range(self.CONFIRMATIONS):
            with pytest.raises(PaymentNotConfirmed) as shallow:
                await self.confirm(w, order.id, txid)
            assert shallow.value.code == "TX_NOT_FOUND"  # the route's "try again" answer
            assert shallow.value.details == {
                "confirmations": depth,
                "required": self.CONFIRMATIONS,
            }
            assert (await w.order(order.id)).status is OrderStatus.PENDING
            w.devnet.produce()
        assert await self.confirm(w, order.id, txid) == OrderStatus.PAID.value
        p = await w.payment(txid)
        assert (p.status, p.order_id) == (PaymentStatus.MATCHED, order.id)
        assert (p.block_number, p.block_id) == (block.number, block.block_id.hex())
        await w.poll()  # the scanner reaches the head (the payment was recorded already)
        assert (await w.payment(txid)).id == p.id
        # a fork above its block: the rewind passes over its height, its block is still there
        w.fork(block.number + 1)
        await w.poll()
        assert w.scanner.stats.forks >= 1
        assert (await w.payment(txid)).status is PaymentStatus.MATCHED
        # a fork taking its block: orphaned
        w.fork(block.number, exclude=(txid,))
        await w.poll()
        assert (await w.payment(txid)).status is PaymentStatus.ORPHANED
