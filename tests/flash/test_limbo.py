"""No paid order in limbo, on the devnet: recipients with no account (activated, or refunded
with the true reason), rejections by side (another pool; the same bytes again), flash disabled
(walk-ins refunded or kept, never delegated), and the invariant the sweeper alerts on."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from cashews import Cache
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.node import FaultRule
from trondevnet.server import DevnetServer
from trondevnet.state import Permission
from trondevnet.testing import funded_key
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.adapters.tron.port import BlockHeader
from tronrent.delegation.chain_tx import Delivery, deliver, record_delivery, stored_row
from tronrent.delegation.limbo import (
    alert_orders_in_limbo,
    limbo_figures,
    orders_in_limbo,
    paid_before,
)
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.energy_transaction import EnergyTransaction, EnergyTransactionStatus
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import PaymentStatus
from tronrent.notification.messages import render
from tronrent.order.recipient import RecipientCheck, activation_fee_sun
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service

from .conftest import (
    TRX,
    Flash,
    FlashFactory,
    active,
    add_pool,
    resource_contracts_to,
    send_trx,
)
from .test_endpoints import Api, api  # noqa: F401 - the API on the devnet, flash engine wired
from .test_processes import hand_over_to_worker, wait_stored
from .test_rules import events, payment_of


@pytest.fixture
async def cache() -> AsyncIterator[Cache]:
    c = Cache()
    c.setup("mem://")
    yield c
    await c.close()


async def assert_no_limbo(f: Flash) -> None:
    """The invariant at the end of a scenario: every paid order has its outcome."""
    async with f.session_maker() as s:
        left = await orders_in_limbo(s, paid_before=utcnow(), include_alerted=True)
    assert not left, [(o.id, o.status, o.status_reason) for o in left]


async def quoted_fee(f: Flash) -> int:
    """The activation fee as create-order quotes it: from the chain parameters, rounded up to
    the amount tail's granularity."""
    fee = activation_fee_sun(await f.gateway.get_chain_parameters())
    g = f.engine.rt.tail_granularity_sun
    return -(-fee // g) * g


async def order_for(f: Flash, recipient: str, cache: Cache) -> Order:
    check = RecipientCheck(f.gateway, cache)
    state = await check.check(recipient, activates=f.engine.rt.activates_recipients)
    async with f.session_maker() as s:
        order, _ = await order_service.create_order(
            s, f.engine.rt, recipient_address=recipient, chat_id=5, recipient_state=state
        )
        await s.commit()
    return order


def account_of(f: Flash, key: PrivateKey) -> object:
    return f.devnet.chain.accounts.get(key.address)


class TestRecipientNotActivated:
    async def test_activated_then_delivered_with_the_fee_in_the_quote(
        self, flash: FlashFactory, cache: Cache
    ) -> None:
        f = await flash()
        recipient = PrivateKey.random()
        assert account_of(f, recipient) is None
        order = await order_for(f, recipient.address_base58, cache)
        fee = await quoted_fee(f)
        async with f.session_maker() as s:
            cfg = await order_service.config(s, f.engine.rt)
        assert order.activation_fee_sun == fee
        tail = order.amount_tail_units or 0
        assert order.expected_amount_units == cfg.price.single_price_sun + fee + tail
        payer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, payer, f.address, 2 * cfg.price.single_price_sun + fee + tail)
        done = await f.wait_order(active, order_id=order.id)
        assert done.transaction_count == 2 and done.final_price_units == (
            2 * cfg.price.single_price_sun + fee
        )
        acct = f.devnet.chain.accounts[recipient.address]
        assert f.devnet.chain.energy_limit(acct) >= 2 * 65_000
        async with f.session_maker() as s:
            [act] = (
                await s.execute(
                    select(ChainTransaction).where(
                        ChainTransaction.purpose == ChainTxPurpose.ACTIVATE
                    )
                )
            ).scalars()
            [d] = (await s.execute(select(EnergyDelegation))).scalars()
        assert act.status is ChainTxStatus.CONFIRMED and act.order_id == order.id
        assert act.to_address == recipient.address_base58 and d.status is DelegationStatus.SUCCESS
        kinds = [e for e, oid in await events(f) if oid == order.id]
        assert "recipient_activating" in kinds and "waiting_for_energy" not in kinds
        to = bytes.fromhex(recipient.address_hex)
        sent = [
            tx
            for b in f.devnet.chain.blocks
            for tx in b.txs
            if tx.to == to and tx.contract_type == "TransferContract"
        ]
        assert len(sent) == 1  # activated once
        # exactly once: a second live activation of the order can never be stored
        async with f.session_maker() as s:
            s.add(
                ChainTransaction(
                    purpose=ChainTxPurpose.ACTIVATE,
                    txid="ab" * 32,
                    owner_address=f.address,
                    to_address=recipient.address_base58,
                    amount_sun=1,
                    raw_data={},
                    raw_data_hex="",
                    signatures=[],
                    expiration_ms=0,
                    order_id=order.id,
                )
            )
            with pytest.raises(IntegrityError):
                await s.commit()
        await assert_no_limbo(f)

    async def test_a_refused_delegation_activates_the_recipient(self, flash: FlashFactory) -> None:
        """Create-order could not tell (no check): the chain's refusal says whose account is
        missing, and the activation policy follows - never "waiting for pool capacity"."""
        f = await flash()
        recipient = PrivateKey.random()
        async with f.session_maker() as s:
            order, _ = await order_service.create_order(
                s, f.engine.rt, recipient_address=recipient.address_base58, chat_id=5
            )
            await s.commit()
        payer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, payer, f.address, order.expected_amount_units or 0)
        await f.wait_order(active, order_id=order.id)
        async with f.session_maker() as s:
            pool = await s.get(EnergyPool, f.pool.id)
            ds = (await s.execute(select(EnergyDelegation))).scalars().all()
            recorded = {
                r.tx_hash: r for r in (await s.execute(select(EnergyTransaction))).scalars()
            }
        assert [d.status for d in ds] == [DelegationStatus.FAILED, DelegationStatus.SUCCESS]
        assert (ds[0].error_message or "").startswith("recipient_not_activated")
        # seed 001's record: the refused delegation failed (the node's words), the next confirmed
        refused, delivered = (recorded[d.tx_hash or ""] for d in ds)
        assert refused.status is EnergyTransactionStatus.FAILED and refused.error_message
        assert refused.block_number is None and refused.expires_at is None
        assert delivered.status is EnergyTransactionStatus.CONFIRMED and delivered.block_number
        assert delivered.expires_at == ds[1].expires_at
        assert pool is not None and pool.recent_failures == 0  # not the pool's fault
        await assert_no_limbo(f)

    async def test_refund_policy_refunds_with_the_true_reason(
        self, flash: FlashFactory, cache: Cache
    ) -> None:
        f = await flash(recipient_activation="refund")
        recipient = PrivateKey.random()
        order = await order_for(f, recipient.address_base58, cache)
        assert order.activation_fee_sun is None  # nothing quoted: it is refunded if still so
        payer = funded_key(f.devnet.chain, 100 * TRX)
        txid = send_trx(f.devnet, payer, f.address, order.expected_amount_units or 0)
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.REFUNDED, order_id=order.id, wait_s=20
        )
        assert "not activated" in (done.status_reason or "")
        p = await payment_of(f, txid, PaymentStatus.REFUNDED)
        assert "in tx " in (p.note or "")
        async with f.session_maker() as s:
            [refund] = (
                await s.execute(
                    select(ChainTransaction).where(
                        ChainTransaction.purpose == ChainTxPurpose.REFUND
                    )
                )
            ).scalars()
            rows = (
                (
                    await s.execute(
                        select(NotificationOutbox).where(NotificationOutbox.order_id == order.id)
                    )
                )
                .scalars()
                .all()
            )
        assert refund.status is ChainTxStatus.CONFIRMED and refund.amount_sun == p.amount_units
        assert refund.to_address == payer.address_base58
        kinds = {r.event_type: r for r in rows}
        assert "waiting_for_energy" not in kinds and "refund_sent" in kinds
        failed = kinds["order_failed"]
        # the bot tells the customer the true reason, in both languages
        assert "not activated" in render(failed.event_type, failed.payload, "en")
        assert "尚未在链上激活" in render(failed.event_type, failed.payload, "zh")
        assert account_of(f, recipient) is None  # nothing was sent to it
        await assert_no_limbo(f)


def transfers_to(f: Flash, key: PrivateKey) -> int:
    """TRX transfers that landed (not failed) to ``key``'s address: activations."""
    to = bytes.fromhex(key.address_hex)
    return sum(
        1
        for b in f.devnet.chain.blocks
        for tx in b.txs
        if tx.to == to and tx.contract_type == "TransferContract" and not tx.failed
    )


class TestActivationSigkill:
    @pytest.mark.parametrize("kill_when", ["stored", "sent"])
    async def test_killed_mid_activation_then_restarted_activates_and_delegates_once(
        self, flash: FlashFactory, cache: Cache, database_url: str, kill_when: str
    ) -> None:
        """The worker process is killed once the activation transfer is stored (before it is
        known to be sent: the node still takes it in while nobody runs), or once it is on chain
        (before the delegation is sent); the restarted engine finds the stored rows and the
        recipient gets exactly one activation and one delegation."""
        f = await flash()
        # the subprocess is the worker now, its broadcasts slowed down (see hand_over_to_worker)
        proc = await hand_over_to_worker(f, database_url)
        recipient = PrivateKey.random()
        try:
            order = await order_for(f, recipient.address_base58, cache)
            assert order.activation_fee_sun  # RECIPIENT_ACTIVATION=activate (the default)
            payer = funded_key(f.devnet.chain, 100 * TRX)
            send_trx(f.devnet, payer, f.address, order.expected_amount_units or 0)
            await wait_stored(
                f,
                ChainTxPurpose.ACTIVATE,
                until=lambda: kill_when == "stored" or transfers_to(f, recipient),
            )
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        f.devnet.node.clear_faults()
        await f.engine.start()  # the scanner and the sweeper pick up the stored rows
        done = await f.wait_order(active, order_id=order.id, wait_s=60)
        assert done.transaction_count == 1
        assert transfers_to(f, recipient) == 1  # activated once
        assert resource_contracts_to(f, recipient) == ["DelegateResourceContract"]
        async with f.session_maker() as s:
            acts = (
                (
                    await s.execute(
                        select(ChainTransaction.status).where(
                            ChainTransaction.purpose == ChainTxPurpose.ACTIVATE
                        )
                    )
                )
                .scalars()
                .all()
            )
            ds = (await s.execute(select(EnergyDelegation.status))).scalars().all()
        assert acts == [ChainTxStatus.CONFIRMED]
        assert ds == [DelegationStatus.SUCCESS]
        await assert_no_limbo(f)


class TestRejections:
    async def test_a_pool_side_refusal_moves_to_another_pool(self, flash: FlashFactory) -> None:
        f = await flash(pool_kw={"priority": 1})
        bad_key, bad = await add_pool(f.session_maker, f.devnet, f.gateway, f.box, priority=10)
        # the preferred pool's key no longer signs for it on chain (its owner permission went
        # to another key): the chain refuses its signature, another pool delivers
        stranger = PrivateKey.random()
        f.devnet.chain.set_permission(
            bad_key.address, Permission(1, [(stranger.address, 1)], "owner", 0), None
        )
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        order = await f.wait_order(active, sender=customer.address_base58)
        async with f.session_maker() as s:
            ds = (
                (await s.execute(select(EnergyDelegation).order_by(EnergyDelegation.id)))
                .scalars()
                .all()
            )
            first = await s.get(EnergyPool, bad.id)
        assert first is not None
        if [d.pool_account_id for d in ds] == [f.pool.id]:
            # the pool sync saw the foreign owner permission first and flagged the pool: it was
            # never planned, and operators were told by the pool_unusable alert
            assert first.flag == "key_mismatch"
        else:  # tried first and refused (the sync may flag it afterwards as well)
            assert [d.pool_account_id for d in ds] == [bad.id, f.pool.id]
            assert (ds[0].error_message or "").startswith("pool_key_mismatch")
            assert first.recent_failures == 1
            assert "delegation_failing" in [e for e, _ in await events(f)]  # operators told
        assert order.delegation_result
        assert order.delegation_result[0]["poolAccount"] == f.pool.tron_address
        await assert_no_limbo(f)

    async def test_a_transient_refusal_sends_the_same_bytes_again(
        self, flash: FlashFactory
    ) -> None:
        f = await flash()
        customer = funded_key(f.devnet.chain, 10 * TRX)
        head = await f.gateway.get_head_block()
        stale = BlockHeader(head.number, "00" * 32, head.parent_hash, head.timestamp_ms)
        tx = f.gateway.build_delegate_local(
            stale, f.address, customer.address_base58, 10 * TRX, lock=False, lock_period=0
        )
        async with f.session_maker() as s:
            row = stored_row(
                f.gateway.sign(tx, f.pool_key.hex()),
                purpose=ChainTxPurpose.DELEGATE,
                owner=f.address,
                to=customer.address_base58,
                amount_sun=10 * TRX,
            )
            s.add(row)
            await s.commit()
            result = await deliver(f.gateway, row, wait_s=0, poll_s=0.01)
            assert result.status is Delivery.PENDING and "TAPOS" in (result.error or "")
            await record_delivery(s, row.id, result)
            await s.commit()
            await s.refresh(row)
        assert row.status is ChainTxStatus.BROADCAST and row.last_error  # kept, tried again
        again = await deliver(f.gateway, row, wait_s=0, poll_s=0.01)
        assert again.status is Delivery.PENDING  # still the same bytes, never FAILED


class TestFlashDisabled:
    @pytest.mark.parametrize("policy", ["refund", "keep"])
    async def test_walk_ins_are_refunded_or_kept_never_delegated(
        self, flash: FlashFactory, policy: str
    ) -> None:
        f = await flash(enabled=False, disabled_payments=policy)
        customer = funded_key(f.devnet.chain, 100 * TRX)
        txid = send_trx(f.devnet, customer, f.address, 3 * TRX)
        want = PaymentStatus.REFUNDED if policy == "refund" else PaymentStatus.IGNORED
        p = await payment_of(f, txid, want, wait_s=20)
        assert p.order_id is None and "disabled" in (p.note or "")
        async with f.session_maker() as s:
            assert (await s.execute(select(EnergyDelegation))).first() is None
            assert (await s.execute(select(Order))).first() is None
            refunds = (
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
        if policy == "refund":
            [r] = refunds
            assert r.status is ChainTxStatus.CONFIRMED and r.amount_sun == 3 * TRX
            assert r.to_address == customer.address_base58
        else:
            assert not refunds
        assert f.devnet.chain.energy_limit(f.devnet.chain.accounts[customer.address]) == 0


class TestInvariant:
    async def test_a_stuck_order_alerts_operators_exactly_once(self, flash: FlashFactory) -> None:
        # ~50k energy: one transfer (65k) never fits, the order waits; 5 blocks later the
        # sweeper finds it in limbo and alerts once, however many sweeps follow
        f = await flash(pool_kw={"stake_trx": 5_000}, paid_order_alert_blocks=5)
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 2 * TRX)
        order = await f.wait_order(
            lambda o: o.status is OrderStatus.PAID and "waiting" in (o.status_reason or ""),
            sender=customer.address_base58,
        )

        async def alerts() -> list[NotificationOutbox]:
            async with f.session_maker() as s:
                return list(
                    (
                        await s.execute(
                            select(NotificationOutbox).where(
                                NotificationOutbox.event_type == "order_in_limbo"
                            )
                        )
                    ).scalars()
                )

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not await alerts():
            assert loop.time() < deadline, "no limbo alert"
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # a few more sweeps (every second here)
        [alert] = await alerts()
        assert alert.payload["order_id"] == order.id and alert.chat_id is None
        assert "waiting for pool capacity" in alert.payload["reason"]
        assert order.id in render(alert.event_type, alert.payload, "en")
        async with f.session_maker() as s:
            assert not await orders_in_limbo(s, paid_before=utcnow())  # alerted: accounted for
            [left] = await orders_in_limbo(s, paid_before=utcnow(), include_alerted=True)
            assert left.id == order.id
            # the query itself, run again, alerts nobody twice
            assert await alert_orders_in_limbo(s, paid_before=utcnow(), blocks=5) == []

    async def test_only_orders_paid_longer_ago_than_the_window(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        rt = FlashRuntime(payment_address=PrivateKey.random().address_base58, block_interval_ms=100)
        async with session_maker() as s:
            order, _ = await order_service.create_order(
                s, rt, recipient_address=PrivateKey.random().address_base58, chat_id=None
            )
            await s.flush()
            await s.execute(
                update(Order)
                .where(Order.id == order.id)
                .values(status=OrderStatus.PAID, paid_at=utcnow() - timedelta(seconds=10))
            )
            await s.commit()
            assert not await orders_in_limbo(
                s,
                paid_before=paid_before(rt.block_interval_ms, 200),  # 20 s of 100 ms blocks
            )
            assert [o.id for o in await orders_in_limbo(s, paid_before=paid_before(100, 50))] == [
                order.id
            ]
            assert await alert_orders_in_limbo(s, paid_before=utcnow(), blocks=50) == [order.id]
            assert await alert_orders_in_limbo(s, paid_before=utcnow(), blocks=50) == []
            await s.commit()

    async def test_figures_in_one_read(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """In limbo at the cutoff, without an outcome now, the oldest payment: one statement
        (the console's alerts page and every sweep read it)."""
        rt = FlashRuntime(payment_address=PrivateKey.random().address_base58, block_interval_ms=100)
        now = utcnow()
        async with session_maker() as s:
            paid: dict[str, tuple[OrderStatus, timedelta]] = {}
            for status, ago in (
                (OrderStatus.PAID, timedelta(seconds=100)),  # in limbo
                (OrderStatus.FAILED, timedelta(seconds=10)),  # no outcome, not in limbo yet
                (OrderStatus.COMPLETED, timedelta(seconds=200)),  # delivered: an outcome
            ):
                order, _ = await order_service.create_order(
                    s, rt, recipient_address=PrivateKey.random().address_base58, chat_id=None
                )
                await s.flush()
                paid[order.id] = (status, ago)
            for oid, (status, ago) in paid.items():
                await s.execute(
                    update(Order).where(Order.id == oid).values(status=status, paid_at=now - ago)
                )
            await s.commit()
            found = await limbo_figures(s, paid_before=now - timedelta(seconds=50), now=now)
            assert (found.in_limbo, found.unsettled) == (1, 2)
            assert found.oldest is not None
            assert abs((found.oldest - (now - timedelta(seconds=100))).total_seconds()) < 1e-3
            none = await limbo_figures(s, paid_before=now - timedelta(hours=1), now=now)
            assert (none.in_limbo, none.unsettled) == (0, 2)


async def create_order(api: Api, recipient: str) -> dict[str, Any]:  # noqa: F811
    """POST create-order; a 503 DATABASE_BUSY (SQLite's write lock taken by a background job
    while the node fails) is retried as its Retry-After asks."""
    for _ in range(10):
        r = await api.http.post(
            "/api/energy-flash/create-order", json={"recipientAddress": recipient, "chatId": 0}
        )
        if r.status_code != 503 or r.json()["error"]["code"] != "DATABASE_BUSY":
            break
        await asyncio.sleep(0.5)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


class TestCreateOrderRecipient:
    async def test_recipient_state_reported_and_cached(self, api: Api) -> None:  # noqa: F811
        fresh = PrivateKey.random().address_base58
        data = await create_order(api, fresh)
        assert data["recipientActivated"] is False
        async with TronGateway([api.devnet.url]) as gateway:
            fee = activation_fee_sun(await gateway.get_chain_parameters())
        quoted = round(data["activationFee"] * TRX)
        assert fee <= quoted < fee + 10_000  # rounded up to the tail's 0.01 TRX
        tail = round(data["paymentTail"] * TRX)
        single = round(data["priceConfig"]["single_price"] * TRX)
        assert round(data["exampleAmount"] * TRX) == single + quoted + tail
        # the node now fails every account and parameter read: an answer can only come from
        # the cache (a node call would leave the state unknown, null, and quote no fee)
        for path in ("/wallet/getaccount", "/wallet/getchainparameters"):
            api.devnet.node.set_fault(FaultRule(path=path, error_rate=1.0))
        try:
            again = await create_order(api, fresh)
            assert again["recipientActivated"] is False
            assert again["activationFee"] == data["activationFee"]
            # not cached: unknown, no fee, and the order is still taken
            other = await create_order(api, PrivateKey.random().address_base58)
            assert other["recipientActivated"] is None and other["activationFee"] == 0
        finally:
            api.devnet.node.clear_faults()
        known = await create_order(api, funded_key(api.devnet.chain, TRX).address_base58)
        assert known["recipientActivated"] is True and known["activationFee"] == 0
        assert round(known["exampleAmount"] * TRX) == single + round(known["paymentTail"] * TRX)


@pytest.mark.redis
async def test_the_address_check_cache_is_shared_through_redis(
    devnet: DevnetServer, gateway: TronGateway
) -> None:
    """Two processes (two checks on one Redis): the second asks the node nothing."""
    caches = []
    for _ in range(2):
        c = Cache()
        c.setup(os.environ["TEST_REDIS_URL"])
        caches.append(c)
    try:
        prefix = f"test:{uuid.uuid4().hex}:"  # this test's own keys on the shared Redis
        first, second = (RecipientCheck(gateway, c, key_prefix=prefix) for c in caches)
        known = funded_key(devnet.chain, TRX).address_base58
        fresh = PrivateKey.random().address_base58
        assert await first.activated(known) is True
        state = await first.check(fresh, activates=True)
        assert state.activated is False
        assert state.activation_fee_sun == activation_fee_sun(await gateway.get_chain_parameters())
        devnet.node.counters.clear()
        assert await second.activated(known) is True
        assert await second.check(fresh, activates=True) == state
        assert await second.check(fresh, activates=False) == type(state)(False)
        assert not devnet.node.counters.get("/wallet/getaccount"), dict(devnet.node.counters)
    finally:
        for c in caches:
            await c.close()
