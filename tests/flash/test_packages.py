"""Package orders and top-ups on the devnet through the API: TRX and USDT transfers, wrong
amounts, unmatched USDT, top-ups credited once (issue 10; tronrent.product)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.address import to_hex
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.flash.api_deps import RUNTIME_COMPONENT
from tronrent.kit.money import format_usdt
from tronrent.models import User, UserStatus
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.chain_transaction import ChainTransaction
from tronrent.models.common import Currency
from tronrent.models.energy_delegation import EnergyDelegation
from tronrent.models.energy_package import EnergyPackage
from tronrent.models.order import Order
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.order.runtime import FlashRuntime
from tronrent.payment.service import UNMATCHED_NOTE
from tronrent.payment.service import payment as payment_service
from tronrent.pool.energy import energy_per_transaction, lock_period_blocks_for_ms
from tronrent.product import topup
from tronrent.user.balance import balance as balance_service

from .conftest import BLOCK_MS, TRX, send_trx
from .test_endpoints import Api, open_api

RENTAL_S = 3
USDT = 1_000_000


@pytest.fixture
async def shop(
    devnet: DevnetServer, gateway: TronGateway, database_url: str, tmp_path: Any
) -> AsyncIterator[Api]:
    async with open_api(
        devnet, gateway, database_url, tmp_path, energy_flash_rental_seconds=RENTAL_S
    ) as opened:
        yield opened


def sessions(api: Api) -> Any:
    assert api.state is not None
    return api.state.session_maker


async def add_package(api: Api, currency: Currency, price_units: int, **kw: Any) -> str:
    async with sessions(api)() as s:
        pkg = EnergyPackage(
            name=f"65k x 1 h {currency.value}",
            energy_amount=65_000,
            duration_hours=1,
            base_price_units=price_units,
            currency=currency,
            min_order_amount=1,
            max_order_amount=5,
            **kw,
        )
        s.add(pkg)
        await s.commit()
        return str(pkg.id)


async def add_user(api: Api) -> uuid.UUID:
    async with sessions(api)() as s:
        user = User(telegram_id=int(uuid.uuid4().int % 10**9), username="buyer")
        s.add(user)
        await s.commit()
        return user.id


async def credit(api: Api, user_id: uuid.UUID, trx_sun: int) -> None:
    """An operator's adjustment crediting ``trx_sun`` to the user's TRX balance."""
    async with sessions(api)() as s:
        await balance_service.apply(
            s,
            user_id=user_id,
            currency=Currency.TRX,
            delta_units=trx_sun,
            cause_type=LedgerCause.ADJUSTMENT,
            cause_id=f"test-{user_id}",
        )
        await s.commit()


def send_usdt(api: Api, key: PrivateKey, to: str, units: int) -> str:
    usdt = api.devnet.config.usdt_address
    data = "a9059cbb" + to_hex(to)[2:].rjust(64, "0") + f"{units:064x}"
    rec = submit(
        api.devnet.chain,
        key,
        "TriggerSmartContract",
        {"contract_address": to_hex(usdt), "data": data},
        fee_limit=100 * TRX,
    )
    return str(rec.txid.hex() if isinstance(rec.txid, bytes) else rec.txid)


async def order_package(api: Api, package_id: str, **body: Any) -> dict[str, Any]:
    recipient = funded_key(api.devnet.chain, TRX).address_base58
    r = await api.http.post(
        "/api/orders",
        json={"packageId": package_id, "quantity": 1, "recipientAddress": recipient, **body},
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def wait_order(api: Api, order_id: str, status: str, wait_s: float = 20) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        r = await api.http.get(f"/api/orders/{order_id}", headers=api.admin)
        data: dict[str, Any] = r.json()["data"]
        if data["status"] == status:
            return data
        if loop.time() > deadline:
            raise AssertionError(data)
        await asyncio.sleep(0.1)


async def payment_of(
    api: Api, tx_hash: str, wait_s: float = 15, status: PaymentStatus | None = None
) -> Payment:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        async with sessions(api)() as s:
            p = (
                await s.execute(select(Payment).where(Payment.tx_hash == tx_hash))
            ).scalar_one_or_none()
        if p is not None and p.handled_at is not None and status in (None, p.status):
            return p
        if loop.time() > deadline:
            raise AssertionError(f"payment {tx_hash} not handled: {p}")
        await asyncio.sleep(0.1)


def runtime(api: Api) -> FlashRuntime:
    assert api.state is not None
    rt: FlashRuntime = api.state.components[RUNTIME_COMPONENT]
    return rt


def units(amount: float) -> int:
    return round(amount * USDT)


class TestTrxPackage:
    async def test_paid_delivered_with_the_rental_lock_and_reclaimed(self, shop: Api) -> None:
        package_id = await add_package(shop, Currency.TRX, 2 * TRX)
        data = await order_package(shop, package_id, quantity=2, currency="TRX")
        assert data["orderId"].startswith("ORD_")
        assert data["paymentAddress"] == shop.pool.tron_address
        assert data["price"] == data["finalPrice"] == 4.0
        assert 4.0 < data["totalAmount"] <= 4.01
        assert data["energyAmount"] == energy_per_transaction(2 * 65_000, 200)
        assert data["quantity"] == 2 and data["durationHours"] == 1 and data["expiresAt"]
        payer = funded_key(shop.devnet.chain, 10 * TRX)
        tx = send_trx(shop.devnet, payer, data["paymentAddress"], units(data["totalAmount"]))
        view = await wait_order(shop, data["orderId"], "active")
        assert view["orderType"] == "energy_rental" and view["packageId"] == package_id
        assert view["currency"] == "TRX" and view["quantity"] == 2
        assert view["finalPrice"] == 4.0 and view["paymentTxHash"] == tx
        async with sessions(shop)() as s:
            (d,) = (
                await s.execute(
                    select(EnergyDelegation).where(EnergyDelegation.order_id == data["orderId"])
                )
            ).scalars()
        paid = await payment_of(shop, tx)
        assert d.energy_amount >= data["energyAmount"]
        assert d.lock_period == lock_period_blocks_for_ms(RENTAL_S * 1000, BLOCK_MS)
        assert paid.status is PaymentStatus.MATCHED
        await wait_order(shop, data["orderId"], "completed")


class TestUsdtPackage:
    async def test_paid_in_usdt(self, shop: Api) -> None:
        package_id = await add_package(shop, Currency.USDT, 3 * USDT // 2)
        data = await order_package(shop, package_id, currency="USDT", quantity=3)
        assert data["currency"] == "USDT" and data["finalPrice"] == 4.5
        payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=100 * USDT)
        tx = send_usdt(shop, payer, data["paymentAddress"], units(data["totalAmount"]))
        view = await wait_order(shop, data["orderId"], "active")
        assert view["energyAmount"] == energy_per_transaction(3 * 65_000, 200)
        paid = await payment_of(shop, tx)
        assert paid.asset is Currency.USDT and paid.status is PaymentStatus.MATCHED
        assert paid.order_id == data["orderId"]

    async def test_underpaid_and_excess_refunded_in_usdt(self, shop: Api) -> None:
        package_id = await add_package(shop, Currency.USDT, 2 * USDT)
        short = await order_package(shop, package_id, currency="USDT")
        over = await order_package(shop, package_id, currency="USDT")
        payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=100 * USDT)
        tail = units(short["totalAmount"]) % 10_000
        tx_short = send_usdt(shop, payer, short["paymentAddress"], USDT + tail)
        over_paid = units(over["totalAmount"]) + 5 * USDT
        tx_over = send_usdt(shop, payer, over["paymentAddress"], over_paid)
        await wait_order(shop, short["orderId"], "refunded")
        await wait_order(shop, over["orderId"], "active")
        p_short = await payment_of(shop, tx_short, status=PaymentStatus.REFUNDED)
        p_over = await payment_of(shop, tx_over, status=PaymentStatus.REFUNDED)
        owed = over_paid - 2 * USDT
        assert f"refunded {format_usdt(USDT + tail)} USDT in tx" in (p_short.note or "")
        assert f"refunded {format_usdt(owed)} USDT in tx" in (p_over.note or "")
        async with sessions(shop)() as s:
            sent = (
                (
                    await s.execute(
                        select(ChainTransaction).where(
                            ChainTransaction.payment_id.in_([p_short.id, p_over.id])
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert sorted(r.amount_sun or 0 for r in sent) == sorted([USDT + tail, owed])
        # the payer got both back, once: 100 - what it sent + the refunds
        balance = shop.devnet.chain.usdt.balance_of(payer.address)
        assert balance == 100 * USDT - (USDT + tail) - over_paid + (USDT + tail) + owed

    async def test_unmatched_usdt_recorded_not_delegated(self, shop: Api) -> None:
        payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=100 * USDT)
        tx = send_usdt(shop, payer, shop.pool.tron_address, 3 * USDT)
        paid = await payment_of(shop, tx)
        assert paid.status is PaymentStatus.IGNORED and paid.note == UNMATCHED_NOTE
        assert paid.order_id is None
        async with sessions(shop)() as s:
            orders = await s.scalar(
                select(func.count())
                .select_from(Order)
                .where(Order.from_address == payer.address_base58)
            )
        assert orders == 0


class TestTopUp:
    async def test_usdt_top_up_credited_once(self, shop: Api) -> None:
        user_id = await add_user(shop)
        r = await shop.http.post(
            f"/api/users/{user_id}/top-ups",
            json={"currency": "USDT", "amount": "10"},
            headers=shop.admin,
        )
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["paymentAddress"] == shop.pool.tron_address
        assert 10 < data["amount"] <= 10.01
        payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=100 * USDT)
        tx = send_usdt(shop, payer, data["paymentAddress"], units(data["amount"]))
        await wait_order(shop, data["orderId"], "completed")
        paid = await payment_of(shop, tx)
        assert paid.status is PaymentStatus.MATCHED
        async with sessions(shop)() as s:
            # replayed: the payment again (already handled), and its credit again
            assert (
                await payment_service.process(s, shop.state.components["flash_runtime"], paid.id)
                is None
            )  # type: ignore[union-attr]
            order = await s.get(Order, data["orderId"])
            assert order is not None
            assert await topup.credit(s, order, paid) is False
            await s.commit()
            balances = await balance_service.get_balances(s, user_id)
            entries = (
                (
                    await s.execute(
                        select(BalanceLedgerEntry).where(BalanceLedgerEntry.user_id == user_id)
                    )
                )
                .scalars()
                .all()
            )
            assert await balance_service.reconcile(s, user_id=user_id) == []
        assert balances.usdt_units == units(data["amount"]) and balances.trx_sun == 0
        assert [(e.cause_type, e.cause_id) for e in entries] == [(LedgerCause.TOP_UP, str(paid.id))]

    async def test_bad_input(self, shop: Api) -> None:
        user_id = await add_user(shop)
        for body, status in (
            ({"currency": "USDT", "amount": "0.5"}, 422),
            ({"currency": "EUR", "amount": "5"}, 422),
            ({"currency": "TRX", "amount": "1.0000001"}, 422),
        ):
            r = await shop.http.post(f"/api/users/{user_id}/top-ups", json=body, headers=shop.admin)
            assert r.status_code == status, r.text
        r = await shop.http.post(
            f"/api/users/{uuid.uuid4()}/top-ups",
            json={"currency": "TRX", "amount": "5"},
            headers=shop.admin,
        )
        assert r.status_code == 404, r.text
        r = await shop.http.post(
            f"/api/users/{user_id}/top-ups", json={"currency": "TRX", "amount": "5"}
        )
        assert r.status_code == 401, r.text


class TestCreateOrderInput:
    async def test_rejected_with_4xx(self, shop: Api) -> None:
        package_id = await add_package(shop, Currency.TRX, 2 * TRX)
        inactive = await add_package(shop, Currency.TRX, 2 * TRX, is_active=False)
        recipient = funded_key(shop.devnet.chain, TRX).address_base58
        base = {"packageId": package_id, "quantity": 1, "recipientAddress": recipient}
        for body, status, code in (
            ({**base, "quantity": 6}, 422, "QUANTITY_OUT_OF_RANGE"),
            ({**base, "quantity": 0}, 422, None),
            ({**base, "packageId": str(uuid.uuid4())}, 404, "PACKAGE_NOT_FOUND"),
            ({**base, "packageId": inactive}, 422, "PACKAGE_UNAVAILABLE"),
            ({**base, "currency": "USDT"}, 422, "CURRENCY_NOT_OFFERED"),
            ({**base, "paymentMethod": "balance"}, 422, "USER_REQUIRED"),
            ({**base, "userId": str(uuid.uuid4())}, 404, None),
            ({**base, "recipientAddress": "T123"}, 422, None),
        ):
            r = await shop.http.post("/api/orders", json=body, headers=shop.admin)
            assert r.status_code == status, (body, r.text)
            if code:
                assert r.json()["error"]["code"] == code, r.text
        r = await shop.http.post("/api/orders", json=base)
        assert r.status_code == 401

    async def test_balance_order_has_no_tail_and_needs_the_balance(self, shop: Api) -> None:
        package_id = await add_package(shop, Currency.TRX, 2 * TRX)
        user_id = await add_user(shop)
        body = {"packageId": package_id, "quantity": 1, "paymentMethod": "balance"}
        r = await shop.http.post(
            "/api/orders",
            json={**body, "userId": str(user_id), "recipientAddress": shop.pool.tron_address},
            headers=shop.admin,
        )
        # paid at creation: an empty balance refuses it, and no order is left behind
        assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
        async with sessions(shop)() as s:
            assert await s.scalar(select(func.count()).where(Order.user_id == user_id)) == 0
        await credit(shop, user_id, 3 * TRX)
        data = await order_package(shop, package_id, paymentMethod="balance", userId=str(user_id))
        assert data["paymentMethod"] == "balance" and data["paymentTail"] is None
        assert data["paymentAddress"] is None and data["totalAmount"] == 2.0
        assert data["status"] == "paid"

    async def test_a_quoted_activation_fee_is_debited_when_paid_from_the_balance(
        self, shop: Api
    ) -> None:
        """A TRX transfer order for an address with no account quotes its activation fee; paid
        from the balance instead, the debit is the whole quoted amount (the fee was dodged:
        the platform paid the activation)."""
        package_id = await add_package(shop, Currency.TRX, 2 * TRX)
        user_id = await add_user(shop)
        await credit(shop, user_id, 10 * TRX)
        r = await shop.http.post(
            "/api/orders",
            json={
                "packageId": package_id,
                "quantity": 1,
                "recipientAddress": PrivateKey.random().address_base58,  # no account yet
                "userId": str(user_id),
                "paymentMethod": "transfer",
            },
            headers=shop.admin,
        )
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        fee = units(data["activationFee"])
        assert fee > 0 and data["finalPrice"] == 2.0
        r = await shop.http.post(
            f"/api/orders/{data['orderId']}/payment",
            json={"method": "balance"},
            headers=shop.admin,
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["paidAmountUnits"] == 2 * TRX + fee
        async with sessions(shop)() as s:
            debits = (
                (
                    await s.execute(
                        select(BalanceLedgerEntry.delta_units).where(
                            BalanceLedgerEntry.cause_id == data["orderId"],
                            BalanceLedgerEntry.cause_type == LedgerCause.ORDER_PAYMENT,
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert list(debits) == [-(2 * TRX + fee)]
            assert (await balance_service.get_balances(s, user_id)).trx_sun == 8 * TRX - fee

    async def test_blocked_user_cannot_order_or_top_up(self, shop: Api) -> None:
        package_id = await add_package(shop, Currency.TRX, 2 * TRX)
        user_id = await add_user(shop)
        async with sessions(shop)() as s:
            user = await s.get(User, user_id)
            assert user is not None
            user.status = UserStatus.BANNED
            await balance_service.apply(
                s,
                user_id=user_id,
                currency=Currency.TRX,
                delta_units=10 * TRX,
                cause_type=LedgerCause.ADJUSTMENT,
                cause_id=f"test-{user_id}",
            )
            await s.commit()
        recipient = shop.pool.tron_address
        base = {"packageId": package_id, "quantity": 1, "recipientAddress": recipient}
        for method in ("transfer", "balance"):
            r = await shop.http.post(
                "/api/orders",
                json={**base, "userId": str(user_id), "paymentMethod": method},
                headers=shop.admin,
            )
            assert r.status_code == 403 and r.json()["error"]["code"] == "USER_BLOCKED", r.text
        r = await shop.http.post(
            f"/api/users/{user_id}/top-ups",
            json={"currency": "TRX", "amount": "10"},
            headers=shop.admin,
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "USER_BLOCKED", r.text
        async with sessions(shop)() as s:
            assert await s.scalar(select(func.count()).where(Order.user_id == user_id)) == 0
            assert (await balance_service.get_balances(s, user_id)).trx_sun == 10 * TRX

    async def test_paid_from_a_balance_topped_up_in_usdt(self, shop: Api) -> None:
        package_id = await add_package(shop, Currency.USDT, 2 * USDT)
        user_id = await add_user(shop)
        r = await shop.http.post(
            f"/api/users/{user_id}/top-ups",
            json={"currency": "USDT", "amount": 5},
            headers=shop.admin,
        )
        assert r.status_code == 201, r.text
        top_up = r.json()["data"]
        payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=100 * USDT)
        send_usdt(shop, payer, top_up["paymentAddress"], units(top_up["amount"]))
        await wait_order(shop, top_up["orderId"], "completed")
        async with sessions(shop)() as s:
            credited = (await balance_service.get_balances(s, user_id)).of(Currency.USDT)
        assert credited == units(top_up["amount"])
        body = {"paymentMethod": "balance", "userId": str(user_id), "currency": "USDT"}
        data = await order_package(shop, package_id, quantity=2, **body)
        assert data["status"] == "paid" and data["paymentAddress"] is None
        view = await wait_order(shop, data["orderId"], "active")
        assert view["currency"] == "USDT" and view["finalPrice"] == 4.0
        async with sessions(shop)() as s:
            left = (await balance_service.get_balances(s, user_id)).of(Currency.USDT)
            debits = (
                (
                    await s.execute(
                        select(BalanceLedgerEntry).where(
                            BalanceLedgerEntry.user_id == user_id,
                            BalanceLedgerEntry.cause_type == LedgerCause.ORDER_PAYMENT,
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert left == credited - 4 * USDT
        assert [(d.cause_id, d.delta_units) for d in debits] == [(data["orderId"], -4 * USDT)]
        # a second order the balance cannot cover is refused, and not created
        r = await shop.http.post(
            "/api/orders",
            json={
                "packageId": package_id,
                "quantity": 1,
                "recipientAddress": view["recipientAddress"],
                **body,
            },
            headers=shop.admin,
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_BALANCE", r.text


class TestOperatorOnUsdt:
    """Unmatched USDT payments handled by an operator (payment.admin): matched to the order the
    customer meant, or sent back in USDT."""

    async def test_unmatched_usdt_matched_to_its_order_and_delivered(self, shop: Api) -> None:
        package_id = await add_package(shop, Currency.USDT, 2 * USDT)
        data = await order_package(shop, package_id, currency="USDT")
        payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=100 * USDT)
        # the customer rounds the amount up: no tail, no order claims it
        tx = send_usdt(shop, payer, data["paymentAddress"], 3 * USDT)
        unmatched = await payment_of(shop, tx)
        assert unmatched.status is PaymentStatus.IGNORED and unmatched.order_id is None
        r = await shop.http.post(
            f"/api/admin/payments/{unmatched.id}/match",
            json={"orderId": data["orderId"], "reason": "customer rounded the amount"},
            headers=shop.admin,
        )
        assert r.status_code == 202, r.text
        view = await wait_order(shop, data["orderId"], "active")
        assert view["paymentTxHash"] == tx and view["currency"] == "USDT"
        async with sessions(shop)() as s:
            matched = await s.get(Payment, unmatched.id)
            delegated = (
                await s.execute(
                    select(EnergyDelegation).where(EnergyDelegation.order_id == data["orderId"])
                )
            ).scalars()
            assert matched is not None and matched.order_id == data["orderId"]
            assert matched.match_method is MatchMethod.MANUAL
            assert sum(d.energy_amount for d in delegated) >= data["energyAmount"]

    async def test_unmatched_usdt_refunded_in_usdt_once(self, shop: Api) -> None:
        payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=100 * USDT)
        tx = send_usdt(shop, payer, shop.pool.tron_address, 3 * USDT)
        unmatched = await payment_of(shop, tx)
        assert unmatched.status is PaymentStatus.IGNORED
        usdt = shop.devnet.chain.usdt
        # the refund account holds the USDT it sends back (the payment itself)
        assert usdt.balance_of(payer.address) == 97 * USDT
        answers = await asyncio.gather(
            *(
                shop.http.post(
                    f"/api/admin/payments/{unmatched.id}/refund",
                    json={"reason": "sent to us by mistake"},
                    headers=shop.admin,
                )
                for _ in range(3)
            )
        )
        assert sorted(r.status_code for r in answers) == [202, 409, 409]
        refunded = await payment_of(shop, tx, status=PaymentStatus.REFUNDED, wait_s=30)
        assert "3 USDT" in (refunded.note or "")
        assert usdt.balance_of(payer.address) == 100 * USDT
        async with sessions(shop)() as s:
            rows = (
                (
                    await s.execute(
                        select(ChainTransaction).where(ChainTransaction.payment_id == unmatched.id)
                    )
                )
                .scalars()
                .all()
            )
        assert [r.amount_sun for r in rows] == [3 * USDT]


class TestPriceRules:
    async def test_rules_price_new_orders_and_every_change_is_in_the_history(
        self, shop: Api
    ) -> None:
        package_id = await add_package(shop, Currency.TRX, 2 * TRX)
        r = await shop.http.post(
            "/api/admin/price-configs",
            json={
                "configName": "10 % off",
                "packageId": package_id,
                "markupBps": -1_000,
                "reason": "launch promotion",
            },
            headers=shop.admin,
        )
        assert r.status_code == 201, r.text
        config_id = r.json()["data"]["configId"]
        first = await order_package(shop, package_id, quantity=2)
        assert first["finalPrice"] == 3.6 and 3.6 < first["totalAmount"] <= 3.61
        r = await shop.http.patch(
            f"/api/admin/price-configs/{config_id}",
            json={"markupBps": -2_000, "reason": "deeper promotion"},
            headers=shop.admin,
        )
        assert r.status_code == 200, r.text
        second = await order_package(shop, package_id, quantity=2)
        assert second["finalPrice"] == 3.2
        # the first order keeps the price it was created with
        view = await wait_order(shop, first["orderId"], "pending")
        assert view["finalPrice"] == 3.6
        r = await shop.http.get(f"/api/admin/price-configs/{config_id}/history", headers=shop.admin)
        history = r.json()["data"]
        assert [(h["changeType"], h["changeReason"]) for h in history] == [
            ("update", "deeper promotion"),
            ("create", "launch promotion"),
        ]
        assert history[0]["oldValue"]["markup_bps"] == -1_000
        assert history[0]["newValue"]["markup_bps"] == -2_000
        assert all(h["changedBy"] for h in history)
