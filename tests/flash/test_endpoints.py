"""The flash HTTP routes on the devnet: payloads of seed 000 section 4, admin guard, bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from subprocesses import free_port
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, new_key
from tronproto.keys import SECP256K1_ORDER
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.api.app import LifespanHook, create_app
from tronrent.api.state import AppState
from tronrent.auth.service import admin as admin_service
from tronrent.config import Settings
from tronrent.flash.api_deps import CHAIN_COMPONENT
from tronrent.flash.lifespan import flash_lifespan
from tronrent.flash.routers import FLASH_ROUTERS
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.db import create_engine, create_session_maker

from .conftest import BLOCK_MS, TRX, add_pool, send_trx, stake

PASSWORD = "correct horse battery"


class Api:
    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        devnet: DevnetServer,
        pool: Any,
        state: AppState | None = None,
    ):
        self.http = http
        self.token = token
        self.devnet = devnet
        self.pool = pool
        self.state = state

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def wait_status(
        self, order_id: str, status: str, wait_s: float = 15, token: str | None = None
    ) -> dict[str, Any]:
        """Poll order-status until ``status``; with the order token: the full view."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        headers = {"X-Order-Token": token} if token else {}
        while True:
            r = await self.http.get(f"/api/energy-flash/order-status/{order_id}", headers=headers)
            data: dict[str, Any] = r.json()["data"]
            if data["status"] == status:
                return data
            if loop.time() > deadline:
                raise AssertionError(data)
            await asyncio.sleep(0.1)


@asynccontextmanager
async def open_api(
    devnet: DevnetServer,
    gateway: TronGateway,
    database_url: str,
    tmp_path: Any,
    *,
    extra_hooks: Sequence[LifespanHook] = (),
    **settings_kw: Any,
) -> AsyncIterator[Api]:
    """The app with the flash lifespan on the devnet, a pool, an admin logged in;
    ``extra_hooks``: lifespan hooks entered after the flash one; ``settings_kw``: further
    settings (e.g. ``energy_flash_rental_seconds``)."""
    key = generate_key()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        database_url=database_url,
        secret_keys=[SecretStr(key)],
        jwt_secret=SecretStr("x" * 40),
        rate_limit_per_minute=0,
        # the fuzz run (test_api_fuzz) sends thousands of admin requests a minute: rate
        # limits have tests of their own (tests/api/test_hostile.py)
        rate_limit_per_account_per_minute=0,
        tron_node_urls=[devnet.url],
        block_interval_ms=BLOCK_MS,
        **settings_kw,
    )
    engine = create_engine(database_url)
    maker = create_session_maker(engine)
    _, pool = await add_pool(maker, devnet, gateway, SecretBox([key]))
    username = f"admin_{uuid.uuid4().hex[:8]}"
    async with maker() as s, s.begin():
        await admin_service.create(s, username=username, password=PASSWORD, role="admin")
    app = create_app(
        settings,
        engine=engine,
        routers=FLASH_ROUTERS,
        lifespan_hooks=[flash_lifespan, *extra_hooks],
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        r = await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        yield Api(http, r.json()["data"]["accessToken"], devnet, pool, app.state.tronrent)
    await engine.dispose()


@pytest.fixture
async def api(
    devnet: DevnetServer, gateway: TronGateway, database_url: str, tmp_path: Any
) -> AsyncIterator[Api]:
    async with open_api(devnet, gateway, database_url, tmp_path) as opened:
        yield opened


class TestCreateOrder:
    async def test_payload_and_paid_by_tail(self, api: Api) -> None:
        recipient = funded_key(api.devnet.chain, TRX).address_base58
        r = await api.http.post(
            "/api/energy-flash/create-order", json={"recipientAddress": recipient, "chatId": 0}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True
        data = body["data"]
        assert data["orderId"].startswith("FLASH_")
        assert data["paymentAddress"] == api.pool.tron_address
        assert data["priceConfig"]["single_price"] == 1.5
        assert data["priceConfig"]["max_transactions"] == 10
        assert data["expiresAt"].endswith("Z")
        payer = funded_key(api.devnet.chain, 100 * TRX)
        amount = round(data["exampleAmount"] * TRX)
        send_trx(api.devnet, payer, data["paymentAddress"], amount + 1_500_000)
        status = await api.wait_status(data["orderId"], "active", token=data["orderToken"])
        assert status["transactionCount"] == 2 and status["access"] == "owner"
        assert status["paidAmount"] == pytest.approx((amount + 1_500_000) / TRX)
        [entry] = status["delegationResult"]
        assert entry["success"] is True and entry["poolAccount"] == api.pool.tron_address
        assert entry["energyAmount"] >= 2 * 65_000 and len(entry["txHash"]) == 64
        r = await api.http.get(f"/api/orders/{data['orderId']}")
        assert r.status_code == 200 and r.json()["data"]["status"] == "active"
        # without the token: the public view (no recipient, no tx hash)
        public = r.json()["data"]
        assert public["access"] == "public" and public["recipientAddress"] is None
        assert "txHash" not in public["delegationResult"][0]

    @pytest.mark.parametrize(
        "payload",
        [
            {"recipientAddress": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU8", "chatId": 1},  # checksum
            {"recipientAddress": "not-an-address", "chatId": 1},
            {"recipientAddress": "", "chatId": 1},
            {"chatId": 1},
            {"recipientAddress": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", "chatId": "abc"},
            {"recipientAddress": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", "chatId": 10**30},
            {"recipientAddress": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", "chatId": 1.5},
        ],
    )
    async def test_bad_input_is_a_clear_4xx(self, api: Api, payload: dict[str, Any]) -> None:
        r = await api.http.post("/api/energy-flash/create-order", json=payload)
        assert r.status_code == 422, r.text
        assert r.json()["success"] is False and r.json()["error"]["message"]


class TestOrderStatusAndCancel:
    async def test_unknown_and_malformed_ids(self, api: Api) -> None:
        r = await api.http.get("/api/energy-flash/order-status/FLASH_1704067200000_abc123def")
        assert r.status_code == 404
        for bad in ("nope", "FLASH_1_x", "FLASH_1704067200000_ABC123DEF", "x" * 300):
            r = await api.http.get(f"/api/energy-flash/order-status/{bad}")
            assert r.status_code == 422, (bad, r.text)

    async def test_cancel_only_while_unpaid(self, api: Api) -> None:
        r = await api.http.post(
            "/api/energy-flash/create-order",
            json={"recipientAddress": api.pool.tron_address, "chatId": 0},
        )
        oid = r.json()["data"]["orderId"]
        owner = {"X-Order-Token": r.json()["data"]["orderToken"]}
        r = await api.http.post(f"/api/energy-flash/cancel-order/{oid}", headers=owner)
        assert r.status_code == 200 and r.json()["data"]["status"] == "cancelled"
        r = await api.http.post(f"/api/energy-flash/cancel-order/{oid}", headers=owner)
        assert r.status_code == 409 and "only unpaid" in r.json()["error"]["message"]


class TestConfirmPayment:
    async def test_verified_on_chain_and_idempotent(self, api: Api) -> None:
        customer = funded_key(api.devnet.chain, 100 * TRX)
        r = await api.http.post(
            "/api/energy-flash/create-order",
            json={"recipientAddress": customer.address_base58, "chatId": 0},
        )
        oid = r.json()["data"]["orderId"]
        owner = {"X-Order-Token": r.json()["data"]["orderToken"]}
        txid = send_trx(api.devnet, customer, api.pool.tron_address, 3 * TRX)
        api.devnet.node.produce()
        for _ in range(2):
            r = await api.http.post(
                "/api/energy-flash/confirm-payment",
                json={"orderId": oid, "txHash": txid},
                headers=owner,
            )
            assert r.status_code == 200, r.text
            assert r.json()["success"] is True and r.json()["message"]
        await api.wait_status(oid, "active")
        # the same payment for another order: refused
        r = await api.http.post(
            "/api/energy-flash/create-order",
            json={"recipientAddress": customer.address_base58, "chatId": 0},
        )
        other = r.json()["data"]["orderId"]
        r = await api.http.post(
            "/api/energy-flash/confirm-payment",
            json={"orderId": other, "txHash": txid},
            headers={"X-Order-Token": r.json()["data"]["orderToken"]},
        )
        assert r.status_code == 409

    @pytest.mark.parametrize(
        "tx_hash,status",
        [("zz", 422), ("0" * 63, 422), ("g" * 64, 422), ("ab" * 32, 404)],
    )
    async def test_bad_hashes(self, api: Api, tx_hash: str, status: int) -> None:
        r = await api.http.post(
            "/api/energy-flash/create-order",
            json={"recipientAddress": api.pool.tron_address, "chatId": 0},
        )
        oid = r.json()["data"]["orderId"]
        r = await api.http.post(
            "/api/energy-flash/confirm-payment",
            json={"orderId": oid, "txHash": tx_hash},
            headers={"X-Order-Token": r.json()["data"]["orderToken"]},
        )
        assert r.status_code == status, r.text


class TestAdminRoutes:
    @pytest.mark.parametrize(
        "method,path",
        [
            ("GET", "/api/energy-pools"),
            ("POST", "/api/energy-pools"),
            ("POST", "/api/energy-pools/allocate"),
            ("POST", "/api/tron/delegate"),
            ("GET", "/api/tron/delegate/FLASH_1704067200000_abc123def"),
            ("POST", "/api/payment-monitoring/start"),
            ("POST", "/api/payment-monitoring/stop"),
            ("GET", "/api/payment-monitoring/status"),
            ("POST", "/api/payments/monitor"),
            ("GET", "/api/payments/monitor/1"),
            ("GET", "/api/admin/job-failures"),
            ("POST", "/api/admin/job-failures/1/retry"),
            ("GET", "/api/admin/alerts"),
        ],
    )
    async def test_anonymous_refused(self, api: Api, method: str, path: str) -> None:
        r = await api.http.request(method, path, json={})
        assert r.status_code in (401, 422), r.text
        if r.status_code == 422:  # body validated first: retry with a valid-looking body
            r = await api.http.request(method, path)
        assert r.status_code in (401, 422)

    async def test_pools_never_show_keys(self, api: Api) -> None:
        r = await api.http.get("/api/energy-pools", headers=api.admin)
        assert r.status_code == 200
        assert "private" not in r.text.lower()
        r = await api.http.post(
            "/api/energy-pools", headers=api.admin, json={"privateKey": "zz" * 32}
        )
        assert r.status_code == 422
        key = funded_key(api.devnet.chain, 1_100 * TRX)
        stake(api.devnet, key, 1_000)
        api.devnet.node.produce()
        r = await api.http.post(
            "/api/energy-pools", headers=api.admin, json={"privateKey": key.hex(), "name": "b"}
        )
        assert r.status_code == 201 and key.hex() not in r.text
        assert r.json()["data"]["address"] == key.address_base58
        assert r.json()["data"]["status"] == "active" and r.json()["data"]["flag"] is None

    @pytest.mark.parametrize(
        "key,message",
        [
            ("00" * 32, "curve order"),
            (f"{SECP256K1_ORDER:064x}", "curve order"),
            ("0x" + "ff" * 32, "curve order"),
            ("zz" * 32, "hexadecimal"),
            ("ab" * 32 + "c", "64 hex characters"),
        ],
    )
    async def test_add_pool_bad_key_is_422(self, api: Api, key: str, message: str) -> None:
        r = await api.http.post(
            "/api/energy-pools", headers=api.admin, json={"privateKey": key, "force": True}
        )
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["success"] is False and message in body["error"]["message"]
        assert body["error"]["code"] in ("INVALID_PRIVATE_KEY", "VALIDATION_ERROR")
        assert key.strip().removeprefix("0x") not in r.text

    async def test_add_pool_checks_the_account_on_chain(self, api: Api) -> None:
        missing = new_key()
        unstaked = funded_key(api.devnet.chain, 10 * TRX)
        for key, code, text in [
            (missing, "POOL_ACCOUNT_MISSING", "does not exist on chain"),
            (unstaked, "POOL_NO_STAKE", "no TRX staked for energy"),
        ]:
            r = await api.http.post(
                "/api/energy-pools", headers=api.admin, json={"privateKey": key.hex()}
            )
            assert r.status_code == 422, r.text
            error = r.json()["error"]
            assert error["code"] == code and text in error["message"]
        r = await api.http.post(
            "/api/energy-pools",
            headers=api.admin,
            json={"privateKey": missing.hex(), "force": True},
        )
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["status"] == "maintenance" and data["flag"] == "account_missing"
        assert "does not exist on chain" in data["flagReason"] and data["flaggedAt"]
        r = await api.http.get("/api/energy-pools", headers=api.admin)
        listed = {p["address"]: p for p in r.json()["data"]}
        assert listed[missing.address_base58]["flag"] == "account_missing"

    async def test_add_pool_with_no_node_answering_is_503(self, api: Api) -> None:
        assert api.state is not None
        components = api.state.components
        key = new_key()
        async with TronGateway(
            [f"http://127.0.0.1:{free_port()}"], timeout_s=1, backoff_base_s=0.01
        ) as dead:
            live, components[CHAIN_COMPONENT] = components[CHAIN_COMPONENT], dead
            try:
                r = await api.http.post(
                    "/api/energy-pools", headers=api.admin, json={"privateKey": key.hex()}
                )
                assert r.status_code == 503, r.text
                error = r.json()["error"]
                assert "cannot check pool account" in error["message"]
                r = await api.http.post(
                    "/api/energy-pools",
                    headers=api.admin,
                    json={"privateKey": key.hex(), "force": True},
                )
            finally:
                components[CHAIN_COMPONENT] = live
        assert r.status_code == 201, r.text
        assert r.json()["data"]["status"] == "maintenance"
        assert r.json()["data"]["flag"] == "unchecked"

    @pytest.mark.parametrize("energy", [-1, 0, "abc", 10**30])
    async def test_allocate_bad_amounts(self, api: Api, energy: Any) -> None:
        r = await api.http.post(
            "/api/energy-pools/allocate",
            headers=api.admin,
            json={"requiredEnergy": energy, "recipientAddress": api.pool.tron_address},
        )
        assert r.status_code == 422

    async def test_allocate_plan(self, api: Api) -> None:
        r = await api.http.post(
            "/api/energy-pools/allocate",
            headers=api.admin,
            json={"requiredEnergy": 65_000, "recipientAddress": api.pool.tron_address},
        )
        assert r.status_code == 200 and r.json()["data"]["status"] == "allocated"

    async def test_delegate_and_monitoring(self, api: Api) -> None:
        target = funded_key(api.devnet.chain, TRX).address_base58
        r = await api.http.post(
            "/api/tron/delegate",
            headers=api.admin,
            json={"toAddress": target, "energyAmount": 65_000},
        )
        assert r.status_code == 202, r.text
        await api.wait_status(r.json()["data"]["orderId"], "active")
        r = await api.http.post(
            "/api/energy-flash/create-order", json={"recipientAddress": target, "chatId": 0}
        )
        oid = r.json()["data"]["orderId"]
        r = await api.http.post(
            "/api/payment-monitoring/start", headers=api.admin, json={"orderId": oid}
        )
        assert r.status_code == 200 and r.json()["data"]["status"] == "monitoring"
        r = await api.http.get("/api/payment-monitoring/status", headers=api.admin)
        assert r.status_code == 200 and r.json()["data"]["counts"]["monitoring"] >= 1
        r = await api.http.post(
            "/api/payment-monitoring/stop", headers=api.admin, json={"orderId": oid}
        )
        assert r.status_code == 200 and r.json()["data"]["stopped"] >= 1

    async def test_watch_times_out_on_its_own_deadline(self, api: Api) -> None:
        target = funded_key(api.devnet.chain, TRX).address_base58
        r = await api.http.post(
            "/api/energy-flash/create-order", json={"recipientAddress": target, "chatId": 0}
        )
        oid = r.json()["data"]["orderId"]
        # the order's own watch (30 min) is replaced by one with a 1 s deadline
        await api.http.post(
            "/api/payment-monitoring/stop", headers=api.admin, json={"orderId": oid}
        )
        r = await api.http.post(
            "/api/payment-monitoring/start",
            headers=api.admin,
            json={"orderId": oid, "timeout": 1_000},
        )
        watch = r.json()["data"]
        assert r.status_code == 200 and watch["status"] == "monitoring", r.text
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while True:
            r = await api.http.get("/api/payment-monitoring/status", headers=api.admin)
            data = r.json()["data"]
            if not any(a["orderId"] == oid for a in data["active"]):
                break
            assert loop.time() < deadline, data
            await asyncio.sleep(0.1)
        assert data["counts"].get("timeout", 0) >= 1
        await api.wait_status(oid, "pending", wait_s=1)  # the order itself still waits


class TestDeadLetterRetry:
    async def test_retry_reenqueues_once_and_resolves(self, api: Api, database_url: str) -> None:
        from sqlalchemy import func, select

        from tronrent.kit.time import now_ms
        from tronrent.models.energy_delegation import EnergyDelegation
        from tronrent.models.job_failure import JobFailure
        from tronrent.models.order import Order, OrderStatus, OrderType
        from tronrent.order.ids import new_flash_order_id

        target = funded_key(api.devnet.chain, TRX).address_base58
        engine = create_engine(database_url)
        maker = create_session_maker(engine)
        oid = new_flash_order_id(now_ms())
        async with maker() as s, s.begin():
            # a paid order whose delegation job exhausted its retries
            s.add(
                Order(
                    id=oid,
                    order_number=oid,
                    order_type=OrderType.ENERGY_RENTAL,
                    status=OrderStatus.PAID,
                    target_address=target,
                    energy_amount=65_000,
                    duration_hours=1,
                    payment_address=api.pool.tron_address,
                )
            )
            await s.flush()
            failure = JobFailure(
                job_name="delegation.delegate_order", args=[oid], error="Boom", attempts=9
            )
            s.add(failure)
            await s.flush()
            fid = failure.id
        try:
            url = f"/api/admin/job-failures/{fid}/retry"
            r = await api.http.post(url, headers=api.admin)
            assert r.status_code == 200, r.text
            data = r.json()["data"]
            assert data["retried"] is True and data["resolution"] == "retried"
            assert data["resolvedAt"] is not None
            await api.wait_status(oid, "active")
            again = await api.http.post(url, headers=api.admin)  # idempotent: nothing sent
            assert again.status_code == 200 and again.json()["data"]["retried"] is False
            r = await api.http.get("/api/admin/job-failures", headers=api.admin)
            [row] = [x for x in r.json()["data"] if x["id"] == fid]
            assert row["resolution"] == "retried" and row["resolvedAt"]
            async with maker() as s:
                n = await s.scalar(select(func.count()).where(EnergyDelegation.order_id == oid))
                stored = await s.get(JobFailure, fid)
            assert n == 1 and stored is not None and stored.resolved_by is not None
            r = await api.http.post("/api/admin/job-failures/999999/retry", headers=api.admin)
            assert r.status_code == 404 and r.json()["error"]["code"] == "JOB_FAILURE_NOT_FOUND"
            r = await api.http.post("/api/admin/job-failures/abc/retry", headers=api.admin)
            assert r.status_code == 422
        finally:
            await engine.dispose()


class TestBalance:
    async def test_balance(self, api: Api) -> None:
        r = await api.http.get(f"/api/tron/balance/{api.pool.tron_address}")
        assert r.status_code == 200 and r.json()["data"]["balanceSun"] > 0
        r = await api.http.get("/api/tron/balance/TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU8")
        assert r.status_code == 422
