"""Problem payments handled by an operator over HTTP, end to end on the devnet with the flash
engine running (flash rental disabled, payments with no order kept - the way unmatched
payments arise): a manual refund sends one transfer, once, however often it is asked for; a
manual match delivers the order's energy."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronproto.address import to_raw
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.api.app import create_app
from tronrent.auth.service import admin as admin_service
from tronrent.config import Settings
from tronrent.flash.api_deps import RUNTIME_COMPONENT
from tronrent.flash.lifespan import flash_lifespan
from tronrent.flash.routers import FLASH_ROUTERS
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service

from .conftest import BLOCK_MS, TRX, add_pool, send_trx
from .test_refund_batch import refund_rows

PASSWORD = "correct horse battery"
PRICE = 1_500_000


@dataclasses.dataclass
class Ops:
    http: httpx.AsyncClient
    headers: dict[str, str]
    devnet: DevnetServer
    pool_address: str
    rt: FlashRuntime
    session_maker: Any

    async def payment(self, tx_hash: str, *statuses: PaymentStatus, wait_s: float = 20) -> Payment:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            async with self.session_maker() as s:
                p = (
                    await s.execute(select(Payment).where(Payment.tx_hash == tx_hash))
                ).scalar_one_or_none()
            if p is not None and p.status in statuses:
                return p
            if loop.time() > deadline:
                raise AssertionError(f"payment {tx_hash}: {p and (p.status, p.note)}")
            await asyncio.sleep(0.05)

    async def order(self, order_id: str, status: OrderStatus, wait_s: float = 20) -> Order:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            async with self.session_maker() as s:
                o = await s.get(Order, order_id)
            assert o is not None
            if o.status is status:
                return o
            if loop.time() > deadline:
                raise AssertionError(f"order {order_id}: {o.status} {o.status_reason}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def ops(
    devnet: DevnetServer, gateway: TronGateway, database_url: str, tmp_path: Path
) -> AsyncIterator[Ops]:
    key = generate_key()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        database_url=database_url,
        secret_keys=[SecretStr(key)],
        jwt_secret=SecretStr("x" * 40),
        rate_limit_per_minute=0,
        tron_node_urls=[devnet.url],
        block_interval_ms=BLOCK_MS,
        energy_flash_enabled=False,
        energy_flash_disabled_payments="keep",
    )
    engine = create_engine(database_url)
    maker = create_session_maker(engine)
    _, pool = await add_pool(maker, devnet, gateway, SecretBox([key]))
    username = f"admin_{uuid.uuid4().hex[:8]}"
    async with maker() as s, s.begin():
        await admin_service.create(s, username=username, password=PASSWORD, role="admin")
    app = create_app(
        settings, engine=engine, routers=FLASH_ROUTERS, lifespan_hooks=[flash_lifespan]
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        r = await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['data']['accessToken']}"}
        rt = app.state.tronrent.components[RUNTIME_COMPONENT]
        yield Ops(http, headers, devnet, pool.tron_address, rt, maker)
    await engine.dispose()


def transfers(ops: Ops, to: str) -> list[int]:
    """Amounts of the successful TRX transfers from the flash address to ``to``."""
    dest, owner = to_raw(to), to_raw(ops.pool_address)
    return [
        int(tx.value["amount"])  # type: ignore[call-overload]
        for b in ops.devnet.chain.blocks
        for tx in b.txs
        if tx.contract_type == "TransferContract"
        and tx.to == dest
        and tx.owner == owner
        and not tx.failed
    ]


class TestManualRefund:
    async def test_dust_refunded_once_on_chain(self, ops: Ops) -> None:
        payer = funded_key(ops.devnet.chain, 10 * TRX)
        tx = send_trx(ops.devnet, payer, ops.pool_address, TRX // 2)  # below min_amount: dust
        p = await ops.payment(tx, PaymentStatus.DUST)
        url = f"/api/admin/payments/{p.id}/refund"
        answers = await asyncio.gather(
            *(
                ops.http.post(url, headers=ops.headers, json={"reason": "sent by mistake"})
                for _ in range(3)
            )
        )
        codes = sorted(r.status_code for r in answers)
        assert codes == [202, 409, 409], [r.text for r in answers]
        refused = [r.json()["error"]["code"] for r in answers if r.status_code == 409]
        assert set(refused) == {"PAYMENT_ALREADY_REFUNDED"}
        [ok] = [r.json()["data"] for r in answers if r.status_code == 202]
        assert ok["payment"]["status"] == "refunding"
        assert ok["change"]["action"] == "refund" and ok["change"]["reason"] == "sent by mistake"
        done = await ops.payment(tx, PaymentStatus.REFUNDED)
        [row] = await refund_rows(ops, p.id)  # type: ignore[arg-type]
        assert row.amount_sun == TRX // 2  # no refund fee configured
        assert f"in tx {row.txid}" in (done.note or "")
        await asyncio.sleep(5 * BLOCK_MS / 1000)  # a few more blocks: nothing else goes out
        assert transfers(ops, payer.address_base58) == [TRX // 2]
        r = await ops.http.post(url, headers=ops.headers, json={"reason": "again"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "PAYMENT_ALREADY_REFUNDED")
        r = await ops.http.get(f"/api/admin/payments/{p.id}", headers=ops.headers)
        [change] = r.json()["data"]["changes"]
        assert change["actor"].startswith("admin:") and change["before"]["status"] == "dust"


class TestManualMatch:
    async def test_unmatched_payment_delivers_the_order(self, ops: Ops) -> None:
        recipient = funded_key(ops.devnet.chain, TRX).address_base58
        # the order was placed while flash rental was on; its payment came after it was off
        async with ops.session_maker() as s:
            order, _ = await order_service.create_order(
                s,
                dataclasses.replace(ops.rt, enabled=True),
                recipient_address=recipient,
                chat_id=None,
            )
            await s.commit()
        payer = funded_key(ops.devnet.chain, 10 * TRX)
        tx = send_trx(ops.devnet, payer, ops.pool_address, 2 * PRICE)  # no tail: not matched
        p = await ops.payment(tx, PaymentStatus.IGNORED)
        assert p.order_id is None
        r = await ops.http.get(
            "/api/admin/payments/problems",
            headers=ops.headers,
            params={"kind": "ignored", "address": payer.address_base58},
        )
        assert [i["paymentId"] for i in r.json()["data"]["items"]] == [p.id]
        r = await ops.http.post(
            f"/api/admin/payments/{p.id}/match",
            headers=ops.headers,
            json={"orderId": order.id, "reason": "customer sent the wrong amount"},
        )
        assert r.status_code == 202, r.text
        active = await ops.order(order.id, OrderStatus.ACTIVE)
        assert active.transaction_count == 2 and active.target_address == recipient
        matched = await ops.payment(tx, PaymentStatus.MATCHED)
        assert (matched.order_id, matched.match_method) == (order.id, "manual")
        # the story tells every step, and the search finds the order by its payment's tx
        r = await ops.http.get(f"/api/admin/orders/{order.id}", headers=ops.headers)
        story = r.json()["data"]
        kinds = [e["kind"] for e in story["timeline"]]
        for kind in ("order_created", "payment_received", "operator_match", "order_paid"):
            assert kind in kinds
        assert any(t["purpose"] == "delegate" for t in story["transactions"])
        assert story["delegations"] and story["changes"][0]["action"] == "match"
        r = await ops.http.get("/api/admin/orders", headers=ops.headers, params={"txHash": tx})
        assert [i["orderId"] for i in r.json()["data"]["items"]] == [order.id]
        delegate_tx = next(t["txid"] for t in story["transactions"] if t["purpose"] == "delegate")
        r = await ops.http.get(
            "/api/admin/orders", headers=ops.headers, params={"txHash": delegate_tx}
        )
        assert [i["orderId"] for i in r.json()["data"]["items"]] == [order.id]
