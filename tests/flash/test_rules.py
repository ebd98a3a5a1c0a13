"""Flash rules on the devnet: ordered payments, cap, dust, underpayment, excess, refunds,
several pools, exhaustion, reclaim, and USDT transfers paid by the rented energy."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from trondevnet.testing import funded_key, submit
from tronproto.address import to_hex
from tronrent.kit.db import read_only
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import OrderStatus
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.order.service import order as order_service

from .conftest import TRX, FlashFactory, active, add_pool, send_trx


async def payment_of(f, tx_hash: str, *statuses: PaymentStatus, wait_s: float = 15.0) -> Payment:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        async with f.session_maker() as s:
            await read_only(s)
            p = (
                await s.execute(select(Payment).where(Payment.tx_hash == tx_hash))
            ).scalar_one_or_none()
        if p is not None and (not statuses or p.status in statuses):
            return p
        if loop.time() > deadline:
            raise AssertionError(f"payment {tx_hash}: {p and p.status}")
        await asyncio.sleep(0.05)


async def events(f) -> list[tuple[str, str | None]]:
    async with f.session_maker() as s:
        rows = (await s.execute(select(NotificationOutbox))).scalars().all()
    return [(r.event_type, r.order_id) for r in rows]


class TestOrdered:
    async def test_paid_from_another_wallet_matched_by_tail(self, flash: FlashFactory) -> None:
        f = await flash()
        recipient = funded_key(f.devnet.chain, 1 * TRX).address_base58
        async with f.session_maker() as s:
            order, cfg = await order_service.create_order(
                s, f.engine.rt, recipient_address=recipient, chat_id=42
            )
            await s.commit()
        exchange = funded_key(f.devnet.chain, 100 * TRX)
        tail = order.amount_tail_units or 0
        send_trx(f.devnet, exchange, f.address, 3 * cfg.price.single_price_sun + tail)
        done = await f.wait_order(active, order_id=order.id)
        assert done.transaction_count == 3 and done.target_address == recipient
        acct = f.devnet.chain.accounts[f.devnet.chain.accounts[exchange.address].address]
        assert f.devnet.chain.energy_limit(acct) == 0  # the payer got nothing
        rec = f.devnet.chain.accounts[
            next(a for a in f.devnet.chain.accounts if to_hex(recipient)[2:] == a.hex()[2:])
        ]
        assert f.devnet.chain.energy_limit(rec) >= 3 * 65_000
        async with f.session_maker() as s:
            [p] = (await s.execute(select(Payment))).scalars().all()
        assert p.match_method is MatchMethod.AMOUNT_TAIL and p.order_id == order.id
        assert ("order_created", order.id) in await events(f)


class TestAmounts:
    async def test_count_capped_and_excess_refunded(self, flash: FlashFactory) -> None:
        f = await flash()
        customer = funded_key(f.devnet.chain, 100 * TRX)
        txid = send_trx(f.devnet, customer, f.address, 20 * TRX)
        order = await f.wait_order(active, sender=customer.address_base58)
        assert order.transaction_count == 10  # max_transactions
        p = await payment_of(f, txid, PaymentStatus.REFUNDED)
        assert p.order_id == order.id
        async with f.session_maker() as s:
            [refund] = (
                (
                    await s.execute(
                        select(ChainTransaction).where(
                            ChainTransaction.purpose == ChainTxPurpose.REFUND
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert refund.amount_sun == 5 * TRX and refund.status is ChainTxStatus.CONFIRMED
        assert refund.to_address == customer.address_base58
        assert ("refund_sent", order.id) in await events(f)

    async def test_dust_recorded_and_ignored(self, flash: FlashFactory) -> None:
        f = await flash()
        spammer = funded_key(f.devnet.chain, 10 * TRX)
        txid = send_trx(f.devnet, spammer, f.address, 1)  # 1 sun: address poisoning
        p = await payment_of(f, txid, PaymentStatus.DUST)
        assert p.order_id is None and p.handled_at is not None
        async with f.session_maker() as s:
            assert (await s.execute(select(EnergyDelegation))).first() is None

    async def test_underpaid_refunded(self, flash: FlashFactory) -> None:
        f = await flash()
        customer = funded_key(f.devnet.chain, 10 * TRX)
        txid = send_trx(f.devnet, customer, f.address, 1_200_000)
        order = await f.wait_order(
            lambda o: o.status is OrderStatus.REFUNDED, sender=customer.address_base58
        )
        assert order.transaction_count == 0
        p = await payment_of(f, txid, PaymentStatus.REFUNDED)
        assert p.order_id == order.id
        kinds = [e for e, oid in await events(f) if oid == order.id]
        assert "payment_underpaid" in kinds and "refund_sent" in kinds


class TestPools:
    async def test_one_pool_that_covers_it_is_used(self, flash: FlashFactory) -> None:
        f = await flash(pool_kw={"stake_trx": 10_000})  # ~100k energy: too small for 10 tx
        _, big = await add_pool(
            f.session_maker, f.devnet, f.gateway, f.box, stake_trx=300_000, name="big"
        )
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 15 * TRX)
        order = await f.wait_order(active, sender=customer.address_base58)
        async with f.session_maker() as s:
            ds = (await s.execute(select(EnergyDelegation))).scalars().all()
        assert [d.pool_account_id for d in ds] == [big.id]
        assert order.delegation_result and order.delegation_result[0]["poolAccount"] == (
            big.tron_address
        )

    async def test_split_over_the_fewest_pools(self, flash: FlashFactory) -> None:
        f = await flash(pool_kw={"stake_trx": 40_000})  # ~400k energy each
        await add_pool(f.session_maker, f.devnet, f.gateway, f.box, stake_trx=40_000)
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 15 * TRX)  # 10 tx = 663k energy
        order = await f.wait_order(active, sender=customer.address_base58)
        async with f.session_maker() as s:
            ds = (await s.execute(select(EnergyDelegation))).scalars().all()
        assert len(ds) == 2 and all(d.status is DelegationStatus.SUCCESS for d in ds)
        assert sum(d.energy_amount for d in ds) == order.energy_amount

    async def test_exhausted_pools_make_the_order_wait_then_deliver(
        self, flash: FlashFactory
    ) -> None:
        f = await flash(pool_kw={"stake_trx": 5_000})
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 15 * TRX)
        order = await f.wait_order(
            lambda o: o.status is OrderStatus.PAID and "waiting" in (o.status_reason or ""),
            sender=customer.address_base58,
        )
        assert "waiting for pool capacity" in (order.status_reason or "")
        assert ("waiting_for_energy", order.id) in await events(f)
        await add_pool(f.session_maker, f.devnet, f.gateway, f.box, stake_trx=300_000)
        done = await f.wait_order(active, order_id=order.id, wait_s=30)
        assert done.transaction_count == 10


class TestReclaim:
    async def test_reclaimed_after_the_lock_expires(self, flash: FlashFactory) -> None:
        f = await flash(rental_s=1.5)
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        order = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED,
            sender=customer.address_base58,
            wait_s=30,
        )
        assert order.completed_at is not None
        acct = f.devnet.chain.accounts[customer.address]
        assert f.devnet.chain.energy_limit(acct) == 0
        async with f.session_maker() as s:
            [d] = (await s.execute(select(EnergyDelegation))).scalars().all()
        assert d.status is DelegationStatus.EXPIRED and d.undelegate_tx_hash
        kinds = [e for e, oid in await events(f) if oid == order.id]
        assert "rental_ended" in kinds


class TestUsdt:
    async def test_usdt_transfers_use_the_rented_energy(self, flash: FlashFactory) -> None:
        f = await flash()
        chain = f.devnet.chain
        customer = funded_key(chain, 100 * TRX, usdt_units=1_000 * TRX)
        friend = funded_key(chain, 1 * TRX, usdt_units=1)  # holds USDT: ~64,285 energy
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        await f.wait_order(active, sender=customer.address_base58)
        usdt = f.devnet.config.usdt_address
        for _ in range(2):
            data = "a9059cbb" + friend.address_hex[2:].rjust(64, "0") + f"{10 * TRX:064x}"
            rec = submit(
                chain,
                customer,
                "TriggerSmartContract",
                {"contract_address": to_hex(usdt), "data": data},
                fee_limit=100 * TRX,
            )
            f.devnet.node.produce()
            assert rec.energy_fee == 0, "TRX was burnt for energy"
            assert rec.energy_usage >= 64_000
