"""Orders paid from the balance, end to end on the devnet (real engine, scanner, tronpy gateway;
SQLite and PostgreSQL): delegated in the block after the payment, refunded to the balance when
the delegation fails for good, and `POST /api/orders/{id}/payment` over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from package_orders import TRX, insert_package_order, new_user
from trondevnet.testing import funded_key
from tronproto.keys import PrivateKey
from tronrent.kit.db import create_engine, create_session_maker, transaction_scope
from tronrent.models import User
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.common import Currency
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment
from tronrent.order.access import hash_order_token, new_order_token
from tronrent.order.service import order as order_service
from tronrent.payment.balance_pay import pay_from_balance
from tronrent.user.balance import balance as balance_service
from tronrent.worker import job_scope

from .conftest import Flash, FlashFactory, active, send_trx
from .test_customer_auth import create, exact
from .test_endpoints import Api, api  # noqa: F401 - the API on the devnet, flash engine wired
from .test_limbo import assert_no_limbo


async def wait_for(check: Any, wait_s: float = 20.0) -> Any:
    """Poll ``check()`` (async) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"timeout waiting for {check.__name__}")
        await asyncio.sleep(0.05)


def block_of(f: Flash, txid: str) -> int | None:
    for block in f.devnet.chain.blocks:
        for tx in block.txs:
            raw = tx.txid.hex() if isinstance(tx.txid, bytes) else str(tx.txid)
            if raw == txid:
                return int(block.number)
    return None


class TestPaidFromBalance:
    async def test_delegated_in_the_next_block(self, flash: FlashFactory) -> None:
        f = await flash()
        recipient = funded_key(f.devnet.chain, TRX).address_base58  # an activated account
        async with transaction_scope(f.session_maker) as s:
            user = await new_user(s, trx_sun=20 * TRX)
            order = await insert_package_order(
                s, user, price_units=6 * TRX, energy=66_300, target_address=recipient
            )
        # blocks are produced by hand from here: "the next block" is exact, not a timing
        f.devnet.node.paused = True  # (blocks are produced synchronously on this loop)
        head = f.devnet.chain.head.number
        # the engine's queue runs the delegation job once the payment is committed
        async with job_scope(), transaction_scope(f.session_maker) as s:
            await pay_from_balance(s, order.id, actor="test")

        async def broadcast() -> ChainTransaction | None:
            async with f.session_maker() as s:
                return (
                    await s.execute(
                        select(ChainTransaction).where(
                            ChainTransaction.order_id == order.id,
                            ChainTransaction.purpose == ChainTxPurpose.DELEGATE,
                            ChainTransaction.status == ChainTxStatus.BROADCAST,
                        )
                    )
                ).scalar_one_or_none()

        row = await wait_for(broadcast)
        assert f.devnet.chain.head.number == head  # no block in between
        f.devnet.produce()
        assert block_of(f, row.txid) == head + 1
        f.devnet.node.paused = False
        done = await f.wait_order(active, order_id=order.id)
        assert done.payment_method == "balance" and done.paid_amount_units == 6 * TRX
        async with f.session_maker() as s:
            row_user = await s.get(User, user.id)
            assert row_user is not None
            assert (row_user.total_orders, row_user.total_spent_sun) == (1, 6 * TRX)
            assert row_user.total_energy_used == 66_300
            assert (await balance_service.get_balances(s, user.id)).trx_sun == 14 * TRX
            assert await balance_service.reconcile(s) == []
            # no chain payment: nothing to match, nothing to refund
            assert (await s.execute(select(Payment))).scalars().all() == []
        await assert_no_limbo(f)

    async def test_failed_delegation_is_refunded_to_the_balance(self, flash: FlashFactory) -> None:
        f = await flash(recipient_activation="refund")
        recipient = PrivateKey.random().address_base58  # no account: the delegation is refused
        async with transaction_scope(f.session_maker) as s:
            user = await new_user(s, usdt_units=9_000_000)
            order = await insert_package_order(
                s, user, price_units=4_000_000, currency=Currency.USDT, target_address=recipient
            )
        async with job_scope(), transaction_scope(f.session_maker) as s:
            await pay_from_balance(s, order.id)
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.REFUNDED, order_id=order.id, wait_s=20
        )
        assert "not activated" in (done.status_reason or "")
        async with f.session_maker() as s:
            entries = (
                (
                    await s.execute(
                        select(BalanceLedgerEntry)
                        .where(BalanceLedgerEntry.user_id == user.id)
                        .order_by(BalanceLedgerEntry.id)
                    )
                )
                .scalars()
                .all()
            )
            assert [(e.cause_type, e.delta_units) for e in entries] == [
                (LedgerCause.TOP_UP, 9_000_000),
                (LedgerCause.ORDER_PAYMENT, -4_000_000),
                (LedgerCause.ORDER_REFUND, 4_000_000),
            ]
            assert (await balance_service.get_balances(s, user.id)).usdt_units == 9_000_000
            assert await balance_service.reconcile(s) == []
            # never an on-chain refund
            refunds = (
                await s.execute(
                    select(ChainTransaction).where(
                        ChainTransaction.purpose.in_(
                            (ChainTxPurpose.REFUND, ChainTxPurpose.REFUND_REST)
                        )
                    )
                )
            ).scalars()
            assert list(refunds) == []
            events = (
                (
                    await s.execute(
                        select(NotificationOutbox.event_type).where(
                            NotificationOutbox.order_id == order.id
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert {"payment_received", "order_failed", "refund"} <= set(events)
            row_user = await s.get(User, user.id)
            assert row_user is not None
            assert (row_user.total_orders, row_user.total_spent_usdt_units) == (0, 0)
            assert row_user.total_energy_used == 0
        await assert_no_limbo(f)


class TestTotalsOfATransferOrder:
    async def test_counted_once_when_paid_and_delivered(self, flash: FlashFactory) -> None:
        f = await flash()
        recipient = funded_key(f.devnet.chain, TRX).address_base58
        async with transaction_scope(f.session_maker) as s:
            user = await new_user(s)
            order, cfg = await order_service.create_order(
                s, f.engine.rt, recipient_address=recipient, chat_id=None, user_id=user.id
            )
        payer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, payer, f.address, order.expected_amount_units or 0)
        done = await f.wait_order(active, order_id=order.id)
        async with f.session_maker() as s:
            row = await s.get(User, user.id)
            assert row is not None
            assert (row.total_orders, row.total_spent_sun, row.total_energy_used) == (
                1,
                cfg.price.single_price_sun,
                done.energy_amount,
            )


PAY = "/api/orders/{}/payment"


class TestPaymentRoute:
    async def test_balance_payment_over_http(self, api: Api, database_url: str) -> None:  # noqa: F811
        recipient = funded_key(api.devnet.chain, TRX).address_base58
        token = new_order_token()
        engine = create_engine(database_url)
        maker = create_session_maker(engine)
        try:
            async with transaction_scope(maker) as s:
                user = await new_user(s, trx_sun=8 * TRX)
                order = await insert_package_order(
                    s, user, price_units=5 * TRX, target_address=recipient
                )
                order.access_token_hash = hash_order_token(token)
                poor = await insert_package_order(
                    s, user, price_units=50 * TRX, target_address=recipient
                )
            url = PAY.format(order.id)
            body = {"method": "balance"}
            r = await api.http.post(url, json=body)
            assert r.status_code == 401 and r.json()["error"]["code"] == "ORDER_TOKEN_REQUIRED"
            r = await api.http.post(url, json=body, headers={"X-Order-Token": "x" * 43})
            assert r.status_code == 403, r.text
            r = await api.http.post(url, json=body, headers={"X-Order-Token": token})
            assert r.status_code == 200, r.text
            data = r.json()["data"]
            assert data == {
                "orderId": order.id,
                "method": "balance",
                "status": "paid",
                "paymentStatus": "paid",
                "currency": "TRX",
                "paidAmountUnits": 5 * TRX,
                "txHash": None,
            }
            # idempotent: the same answer (status may have moved on), one debit
            r = await api.http.post(url, json=body, headers=api.admin)
            assert r.status_code == 200 and r.json()["data"]["paidAmountUnits"] == 5 * TRX
            r = await api.http.post(PAY.format(poor.id), json=body, headers=api.admin)
            assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_BALANCE"

            async def delivered() -> Order | None:
                async with maker() as s:
                    o = await s.get(Order, order.id)
                    return o if o is not None and o.status is OrderStatus.ACTIVE else None

            await wait_for(delivered)
            async with maker() as s:
                assert (await balance_service.get_balances(s, user.id)).trx_sun == 3 * TRX
                assert await balance_service.reconcile(s) == []
        finally:
            await engine.dispose()

    async def test_transfer_payment_over_http(self, api: Api) -> None:  # noqa: F811
        customer = funded_key(api.devnet.chain, 100 * TRX)
        data = await create(api, recipient=customer.address_base58)
        oid, token = data["orderId"], data["orderToken"]
        txid = send_trx(api.devnet, customer, api.pool.tron_address, exact(data))
        api.devnet.node.produce()
        body = {"method": "transfer", "txHash": txid}
        # the scanner may see it first: either way the transfer is accepted, twice alike
        for _ in range(2):
            r = await api.http.post(PAY.format(oid), json=body, headers={"X-Order-Token": token})
            assert r.status_code == 200, r.text
            answer = r.json()["data"]
            assert (answer["orderId"], answer["method"], answer["txHash"]) == (
                oid,
                "transfer",
                txid,
            )
            assert answer["status"] in ("paid", "delegating", "active")
        # a flash order is not paid from a balance (it has no user, and no price yet)
        r = await api.http.post(PAY.format(oid), json={"method": "balance"}, headers=api.admin)
        assert r.status_code == 409 and r.json()["error"]["code"] == "ORDER_NOT_PAYABLE"
        await api.wait_status(oid, "active")

    async def test_bad_input_is_a_clear_4xx(self, api: Api) -> None:  # noqa: F811
        cases: list[tuple[str, Any, int]] = [
            ("ORD_1700000000000_unknown00", {"method": "balance"}, 404),
            ("PKG_unknown", {"method": "balance"}, 422),
            ("PKG_x", {"method": "cash"}, 422),
            ("PKG_x", {"method": "transfer"}, 422),
            ("PKG_x", {"method": "transfer", "txHash": "zz"}, 422),
            ("PKG_x", {}, 422),
            ("PKG_x", [], 422),
            ("bad%20id", {"method": "balance"}, 422),
            ("x" * 101, {"method": "balance"}, 422),
        ]
        for order_id, body, status in cases:
            r = await api.http.post(PAY.format(order_id), json=body, headers=api.admin)
            assert r.status_code == status, (order_id, body, r.text)
            assert r.json()["success"] is False
