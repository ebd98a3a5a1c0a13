"""Flash follow-ups: a failed order's refund after its excess went out, watch deadlines, late
payments around the grace period, confirmations, same pool/receiver locks, dead-letter retry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from trondevnet.testing import funded_key
from tronrent.delegation.deps import flow_deps
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.job_failure import JobFailure
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.models.scanner_checkpoint import ScannerCheckpoint
from tronrent.order.service import order as order_service
from tronrent.payment.refund import refund_payment
from tronrent.worker import get_actor, job_scope

from .conftest import (
    TRX,
    Flash,
    FlashFactory,
    active,
    add_pool,
    resource_contracts_to,
    send_trx,
)
from .test_exactly_once import delegations_on_chain
from .test_reclaim_batch import without_sweeper
from .test_rules import events, payment_of

DELEGATE_JOB = "delegation.delegate_order"


async def refunds_of(f, payment_id: int) -> list[ChainTransaction]:
    async with f.session_maker() as s:
        rows = (
            await s.execute(
                select(ChainTransaction)
                .where(ChainTransaction.payment_id == payment_id)
                .order_by(ChainTransaction.id)
            )
        ).scalars()
        return list(rows.all())


class TestFailedAfterExcessRefund:
    async def test_the_rest_is_refunded_once_and_never_more_than_paid(
        self, flash: FlashFactory
    ) -> None:
        # a pool too small for 10 transactions: the order waits while its excess is refunded
        f = await flash(pool_kw={"stake_trx": 5_000}, max_pool_attempts=0)
        customer = funded_key(f.devnet.chain, 100 * TRX)
        txid = send_trx(f.devnet, customer, f.address, 20 * TRX)  # 10 tx + 5 TRX excess
        first = await payment_of(f, txid, PaymentStatus.REFUNDED)
        order = await f.wait_order(
            lambda o: o.status is OrderStatus.PAID, sender=customer.address_base58
        )
        [excess] = await refunds_of(f, first.id)
        assert excess.purpose is ChainTxPurpose.REFUND and excess.amount_sun == 5 * TRX
        # the database now believes the pool can cover it; the chain rejects the delegation.
        # No periodic jobs from here on: a pool sync would write the chain's truth back before
        # the order is tried again (under load it often did); the test drives the order itself
        async with without_sweeper(f):
            async with f.session_maker() as s:
                await s.execute(update(EnergyPool).values(available_energy=10**12))
                await s.commit()
            async with job_scope():  # its refund job goes to the engine's queue
                await get_actor(DELEGATE_JOB).fn(order.id)
            await f.wait_order(
                lambda o: o.status is OrderStatus.REFUNDED, order_id=order.id, wait_s=30
            )
            paid = await payment_of(f, txid, PaymentStatus.REFUNDED)
            rows = await refunds_of(f, paid.id)
            assert [(r.purpose, r.amount_sun, r.status) for r in rows] == [
                (ChainTxPurpose.REFUND, 5 * TRX, ChainTxStatus.CONFIRMED),
                (ChainTxPurpose.REFUND_REST, 15 * TRX, ChainTxStatus.CONFIRMED),
            ]
            assert sum(r.amount_sun or 0 for r in rows) == paid.amount_units
            kinds = [e for e, oid in await events(f) if oid == order.id]
            assert kinds.count("refund_sent") == 2 and "order_failed" in kinds
            # idempotent: running the job again, even with the payment put back to refunding,
            # sends nothing more
            async with f.session_maker() as s:
                await s.execute(
                    update(Payment)
                    .where(Payment.id == paid.id)
                    .values(status=PaymentStatus.REFUNDING)
                )
                await s.commit()
            assert await refund_payment(flow_deps(), paid.id) == "refunded"
            assert await refund_payment(flow_deps(), paid.id) == "refunded"
            assert len(await refunds_of(f, paid.id)) == 2
            # checked against the chain: the pool sent the customer exactly what was paid
            to = bytes.fromhex(customer.address_hex)
            on_chain = [
                int(tx.value["amount"])  # type: ignore[call-overload]
                for block in f.devnet.chain.blocks
                for tx in block.txs
                if tx.contract_type == "TransferContract" and tx.to == to and not tx.failed
            ]
            assert sorted(on_chain) == [5 * TRX, 15 * TRX]


async def payments_count(f: Flash) -> int:
    async with f.session_maker() as s:
        return int(await s.scalar(select(func.count()).select_from(Payment)) or 0)


async def scanned_to(f: Flash, block: int, wait_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        async with f.session_maker() as s:
            n = await s.scalar(select(func.max(ScannerCheckpoint.block_number)))
        if n is not None and n >= block:
            return
        assert loop.time() < deadline, f"scanner at {n}, waiting for {block}"
        await asyncio.sleep(0.05)


class TestConfirmations:
    N = 3

    async def test_payment_acted_on_only_after_n_confirmations(self, flash: FlashFactory) -> None:
        f = await flash(scanner_kw={"confirmations": self.N})
        customer = funded_key(f.devnet.chain, 100 * TRX)
        f.devnet.node.paused = True
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        f.devnet.node.produce()
        included = f.devnet.chain.head.number
        for _ in range(self.N - 1):  # N - 1 blocks on top: not confirmed yet
            await scanned_to(f, f.devnet.chain.head.number - self.N)
            await asyncio.sleep(0.4)  # several scanner polls
            assert await payments_count(f) == 0
            f.devnet.node.produce()
        await asyncio.sleep(0.4)
        assert await payments_count(f) == 0
        assert f.devnet.chain.head.number == included + self.N - 1
        f.devnet.node.produce()  # the N-th confirmation
        f.devnet.node.paused = False
        order = await f.wait_order(active, sender=customer.address_base58)
        async with f.session_maker() as s:
            [p] = (await s.execute(select(Payment))).scalars().all()
        assert p.block_number == included and p.order_id == order.id
        assert delegations_on_chain(f) == {bytes.fromhex(customer.address_hex): 1}

    async def test_a_fork_within_the_window_never_delegates(self, flash: FlashFactory) -> None:
        f = await flash(scanner_kw={"confirmations": self.N})
        customer = funded_key(f.devnet.chain, 100 * TRX)
        f.devnet.node.paused = True
        txid = send_trx(f.devnet, customer, f.address, 3 * TRX)
        f.devnet.node.produce(self.N - 1)  # included, N - 2 blocks on top
        await asyncio.sleep(0.4)
        assert await payments_count(f) == 0
        f.devnet.chain.fork(drop=self.N - 1, exclude=[bytes.fromhex(txid)], produce=self.N + 2)
        f.devnet.node.paused = False
        await scanned_to(f, f.devnet.chain.head.number - self.N + 5)
        await asyncio.sleep(0.5)
        assert await payments_count(f) == 0
        assert bytes.fromhex(customer.address_hex) not in delegations_on_chain(f)


async def expired_order(f: Flash, recipient: str, minutes_ago: float) -> Order:
    """An ordered flash order whose payment window closed `minutes_ago`, expired by the sweeper."""
    async with f.session_maker() as s:
        order, _ = await order_service.create_order(
            s, f.engine.rt, recipient_address=recipient, chat_id=7
        )
        await s.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(expires_at=utcnow() - timedelta(minutes=minutes_ago))
        )
        await s.commit()
    return await f.wait_order(lambda o: o.status is OrderStatus.EXPIRED, order_id=order.id)


class TestLatePayment:
    async def test_inside_the_grace_the_order_is_still_served(self, flash: FlashFactory) -> None:
        f = await flash()
        recipient = funded_key(f.devnet.chain, 1 * TRX)
        order = await expired_order(f, recipient.address_base58, minutes_ago=9)
        exchange = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, exchange, f.address, order.expected_amount_units or 0)
        done = await f.wait_order(active, order_id=order.id)
        assert done.transaction_count == 1
        on_chain = delegations_on_chain(f)
        assert on_chain.get(bytes.fromhex(recipient.address_hex)) == 1
        assert bytes.fromhex(exchange.address_hex) not in on_chain

    async def test_after_the_grace_it_is_refunded_to_the_sender(self, flash: FlashFactory) -> None:
        f = await flash()
        recipient = funded_key(f.devnet.chain, 1 * TRX)
        order = await expired_order(f, recipient.address_base58, minutes_ago=11)
        exchange = funded_key(f.devnet.chain, 100 * TRX)
        amount = order.expected_amount_units or 0
        txid = send_trx(f.devnet, exchange, f.address, amount)
        p = await payment_of(f, txid, PaymentStatus.REFUNDED)
        assert p.order_id == order.id and "late payment" in (p.note or "")
        [refund] = await refunds_of(f, p.id)
        assert refund.amount_sun == amount and refund.to_address == exchange.address_base58
        async with f.session_maker() as s:
            again = await s.get(Order, order.id)
            assert again is not None and again.status is OrderStatus.EXPIRED
        assert ("refund_sent", order.id) in await events(f)
        on_chain = delegations_on_chain(f)
        assert not on_chain.get(bytes.fromhex(exchange.address_hex))
        assert not on_chain.get(bytes.fromhex(recipient.address_hex))

    async def test_after_the_grace_paid_by_the_recipient_is_a_walk_in(
        self, flash: FlashFactory
    ) -> None:
        f = await flash()
        recipient = funded_key(f.devnet.chain, 100 * TRX)
        order = await expired_order(f, recipient.address_base58, minutes_ago=11)
        send_trx(f.devnet, recipient, f.address, order.expected_amount_units or 0)
        walk_in = await f.wait_order(
            lambda o: o.status is OrderStatus.ACTIVE and o.id != order.id,
            sender=recipient.address_base58,
        )
        assert walk_in.target_address == recipient.address_base58
        assert delegations_on_chain(f).get(bytes.fromhex(recipient.address_hex)) == 1


class TestSameReceiverLocks:
    async def test_a_second_order_prefers_another_pool(self, flash: FlashFactory) -> None:
        f = await flash()
        await add_pool(f.session_maker, f.devnet, f.gateway, f.box, name="second")
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        first = await f.wait_order(active, sender=customer.address_base58)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        second = await f.wait_order(
            lambda o: o.status is OrderStatus.ACTIVE and o.id != first.id,
            sender=customer.address_base58,
        )
        async with f.session_maker() as s:
            pools = {
                d.order_id: d.pool_account_id
                for d in (await s.execute(select(EnergyDelegation))).scalars()
            }
        assert pools[first.id] != pools[second.id]

    async def test_reusing_the_pool_reclaims_both_when_the_combined_lock_ends(
        self, flash: FlashFactory
    ) -> None:
        f = await flash(rental_s=2.0)  # one pool: the second order must reuse it
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        first = await f.wait_order(active, sender=customer.address_base58)
        await asyncio.sleep(1.0)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        second = await f.wait_order(
            lambda o: o.status is OrderStatus.ACTIVE and o.id != first.id,
            sender=customer.address_base58,
        )
        # the first rental ends for the customer at its own end, while the chain still locks
        # the combined amount until the second lock ends: reclaim rescheduled, not retried
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while ("rental_ended", first.id) not in await events(f):
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        for oid in (first.id, second.id):
            await f.wait_order(lambda o: o.status is OrderStatus.COMPLETED, order_id=oid, wait_s=20)
        async with f.session_maker() as s:
            ds = (
                (await s.execute(select(EnergyDelegation).order_by(EnergyDelegation.id)))
                .scalars()
                .all()
            )
            failures = (await s.execute(select(JobFailure))).scalars().all()
        assert [d.status for d in ds] == [DelegationStatus.EXPIRED] * 2
        assert "reclaim rescheduled" in (ds[0].error_message or "")
        assert len({d.pool_account_id for d in ds}) == 1
        assert failures == []
        acct = f.devnet.chain.accounts[customer.address]
        assert f.devnet.chain.energy_limit(acct) == 0
        kinds = resource_contracts_to(f, customer)
        assert kinds.count("DelegateResourceContract") == 2
        assert kinds.count("UnDelegateResourceContract") == 2
        events_first = [e for e, oid in await events(f) if oid == first.id]
        assert events_first.count("rental_ended") == 1
