"""Count packages through the HTTP API on the devnet (SQLite and PostgreSQL): bought with
`POST /api/orders` (`packageType: count`) and paid by a USDT transfer, used by USDT transfers,
the order view listing each use with our top-up; the admin routes (active packages, uses,
adjustment with a reason)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from trondevnet.testing import funded_key
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.flash.api_deps import ENGINE_COMPONENT
from tronrent.flash.engine import FlashEngine
from tronrent.models.common import Currency
from tronrent.models.count_package import CountPackageChange
from tronrent.models.energy_package import PackageType

from .conftest import TRX
from .test_endpoints import Api
from .test_packages import add_package, send_usdt, sessions, units, wait_order

USDT = 1_000_000
ADMIN = "/api/admin/count-packages"


async def count_package(api: Api, counts: int) -> str:
    return await add_package(
        api,
        Currency.USDT,
        counts * 800_000,
        package_type=PackageType.TRANSACTION_COUNT,
        transaction_count=counts,
    )


async def energy_left(gateway: TronGateway, address: str) -> int:
    res = await gateway.get_account_resource(address)
    return int(res.energy_limit - res.energy_used)


async def bought(shop: Api, package_id: str, customer: str) -> dict[str, Any]:
    """A count package for ``customer`` bought over HTTP, paid by a USDT transfer, active."""
    r = await shop.http.post(
        "/api/orders",
        json={
            "packageId": package_id,
            "quantity": 1,
            "recipientAddress": customer,
            "currency": "USDT",
            "packageType": "count",
        },
        headers=shop.admin,
    )
    data: dict[str, Any] = r.json()["data"]
    payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=10 * USDT)
    send_usdt(shop, payer, data["paymentAddress"], units(data["totalAmount"]))
    await wait_order(shop, data["orderId"], "active")
    return data


@asynccontextmanager
async def without_periodic_jobs(api: Api) -> AsyncIterator[FlashEngine]:
    """The app's engine replaced by one on the same database and chain with no periodic jobs
    (no count.life): what happens is what the request itself started."""
    assert api.state is not None
    old: FlashEngine = api.state.components[ENGINE_COMPONENT]
    await old.stop()
    new = dataclasses.replace(old, run_periodic_jobs=False)
    await new.start()
    api.state.components[ENGINE_COMPONENT] = new
    try:
        yield new
    finally:
        await new.stop()


class TestBoughtAndUsedOverHttp:
    async def test_paid_in_usdt_used_twice_listed_in_the_order(
        self, shop: Api, gateway: TronGateway
    ) -> None:
        package_id = await count_package(shop, 2)
        customer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=100 * USDT)
        holder = funded_key(shop.devnet.chain, TRX, usdt_units=USDT).address_base58
        r = await shop.http.post(
            "/api/orders",
            json={
                "packageId": package_id,
                "quantity": 1,
                "recipientAddress": customer.address_base58,
                "currency": "USDT",
                "packageType": "count",
            },
            headers=shop.admin,
        )
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["packageType"] == "count" and data["counts"] == 2
        assert data["energyAmount"] == 66_300  # one transfer's energy + 2 %
        payer = funded_key(shop.devnet.chain, 100 * TRX, usdt_units=10 * USDT)
        send_usdt(shop, payer, data["paymentAddress"], units(data["totalAmount"]))
        view = await wait_order(shop, data["orderId"], "active")
        assert view["orderType"] == "transaction_package"
        assert view["countPackage"]["total"] == 2 and view["countPackage"]["used"] == 0

        r = await shop.http.get(ADMIN, headers=shop.admin)
        assert r.status_code == 200
        assert [p["orderId"] for p in r.json()["data"]["items"]] == [data["orderId"]]

        for n in (1, 2):
            for _ in range(400):
                if await energy_left(gateway, customer.address_base58) >= 64_285:
                    break
                await asyncio.sleep(0.05)
            send_usdt(shop, customer, holder, USDT)
            if n == 1:
                for _ in range(400):
                    r = await shop.http.get(f"{ADMIN}/{data['orderId']}", headers=shop.admin)
                    uses = r.json()["data"]["uses"]
                    if uses and uses[0]["status"] == "topped_up":
                        break
                    await asyncio.sleep(0.05)
        done = await wait_order(shop, data["orderId"], "completed", wait_s=30)
        uses = done["countPackage"]["uses"]
        assert [u["counts"] for u in uses] == [1, 1]
        assert [u["status"] for u in uses] == ["last", "topped_up"]  # newest first
        assert uses[1]["topUpTxHash"] and uses[1]["undelegateTxHash"]
        assert all(u["energyFeeSun"] == 0 for u in uses)
        # the public view (no token) shows the counts, not the transactions
        public = await shop.http.get(f"/api/orders/{data['orderId']}")
        assert "uses" not in public.json()["data"]["countPackage"]


class TestAdminRoutes:
    async def test_adjustment_needs_a_reason_and_is_bounded(self, shop: Api) -> None:
        package_id = await count_package(shop, 3)
        customer = funded_key(shop.devnet.chain, TRX).address_base58
        data = await bought(shop, package_id, customer)
        url = f"{ADMIN}/{data['orderId']}/adjustments"
        r = await shop.http.post(url, json={"deltaCounts": 2, "reason": " "}, headers=shop.admin)
        assert r.status_code == 422 and r.json()["error"]["code"] == "REASON_REQUIRED"
        r = await shop.http.post(url, json={"deltaCounts": -3, "reason": "x"}, headers=shop.admin)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "INVALID_COUNT_ADJUSTMENT"
        r = await shop.http.post(
            url, json={"deltaCounts": 2, "reason": "goodwill"}, headers=shop.admin
        )
        assert r.status_code == 200 and r.json()["data"]["total"] == 5
        r = await shop.http.post(url, json={"deltaCounts": 2, "reason": "x"})
        assert r.status_code == 401
        r = await shop.http.get(f"{ADMIN}/ORD_1700000000000_aaaaaaaaa", headers=shop.admin)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "COUNT_PACKAGE_NOT_FOUND"
        # an energy package is not sold as a count package
        energy_id = await add_package(shop, Currency.USDT, USDT)
        r = await shop.http.post(
            "/api/orders",
            json={
                "packageId": energy_id,
                "quantity": 1,
                "recipientAddress": customer,
                "currency": "USDT",
                "packageType": "count",
            },
            headers=shop.admin,
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "PACKAGE_UNAVAILABLE"
        async with sessions(shop)() as s:
            (change,) = (await s.execute(select(CountPackageChange))).scalars()
            assert (change.total_before, change.total_after, change.reason) == (3, 5, "goodwill")
            assert change.actor.startswith("admin:")


class TestPauseResumeRoutes:
    async def test_operator_pauses_and_resumes_with_a_reason(
        self, shop: Api, gateway: TronGateway
    ) -> None:
        package_id = await count_package(shop, 2)
        customer = funded_key(shop.devnet.chain, TRX).address_base58
        data = await bought(shop, package_id, customer)
        url = f"{ADMIN}/{data['orderId']}"
        r = await shop.http.post(f"{url}/pause", json={"reason": " "}, headers=shop.admin)
        assert r.status_code == 422 and r.json()["error"]["code"] == "REASON_REQUIRED"
        r = await shop.http.post(f"{url}/pause", json={"reason": "customer asked"})
        assert r.status_code == 401
        r = await shop.http.post(
            f"{ADMIN}/ORD_1700000000000_aaaaaaaaa/pause", json={"reason": "x"}, headers=shop.admin
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "COUNT_PACKAGE_NOT_FOUND"
        r = await shop.http.post(
            f"{url}/pause", json={"reason": "customer asked"}, headers=shop.admin
        )
        assert r.status_code == 200, r.text
        view = r.json()["data"]
        assert view["paused"] is True and view["pendingAction"] == "pause"
        # the undelegation goes out (the job the pause enqueued): the address holds none of ours
        for _ in range(400):
            if (await gateway.get_account_resource(customer)).energy_limit == 0:
                r = await shop.http.get(url, headers=shop.admin)
                if r.json()["data"]["pendingAction"] is None:
                    break
            await asyncio.sleep(0.05)
        assert r.json()["data"]["pendingAction"] is None
        r = await shop.http.post(f"{url}/resume", json={"reason": "back"}, headers=shop.admin)
        assert r.status_code == 200 and r.json()["data"]["paused"] is False
        for _ in range(400):
            if await energy_left(gateway, customer) >= 64_285:
                break
            await asyncio.sleep(0.05)
        assert await energy_left(gateway, customer) >= 64_285
        async with sessions(shop)() as s:
            kinds = (
                await s.execute(
                    select(CountPackageChange.kind, CountPackageChange.reason).order_by(
                        CountPackageChange.id
                    )
                )
            ).all()
        assert [(k.value, why) for k, why in kinds] == [
            ("pause", "customer asked"),
            ("resume", "back"),
        ]

    async def test_pause_and_resume_reach_the_chain_without_count_life(
        self, shop: Api, gateway: TronGateway
    ) -> None:
        """The pause's undelegation and the resume's delegation are sent by the job the request
        enqueued in its own transaction: no periodic count.life runs here."""
        package_id = await count_package(shop, 2)
        customer = funded_key(shop.devnet.chain, TRX).address_base58
        data = await bought(shop, package_id, customer)
        url = f"{ADMIN}/{data['orderId']}"
        async with without_periodic_jobs(shop):
            r = await shop.http.post(f"{url}/pause", json={"reason": "away"}, headers=shop.admin)
            assert r.status_code == 200, r.text
            assert r.json()["data"]["pendingAction"] == "pause"
            for _ in range(400):
                r = await shop.http.get(url, headers=shop.admin)
                if r.json()["data"]["pendingAction"] is None:
                    break
                await asyncio.sleep(0.05)
            assert r.json()["data"]["pendingAction"] is None
            for _ in range(200):  # sent: in the next block
                if (await gateway.get_account_resource(customer)).energy_limit == 0:
                    break
                await asyncio.sleep(0.05)
            assert (await gateway.get_account_resource(customer)).energy_limit == 0
            r = await shop.http.post(f"{url}/resume", json={"reason": "back"}, headers=shop.admin)
            assert r.status_code == 200, r.text
            assert r.json()["data"]["pendingAction"] == "resume"
            for _ in range(400):
                if await energy_left(gateway, customer) >= 64_285:
                    break
                await asyncio.sleep(0.05)
            assert await energy_left(gateway, customer) >= 64_285
            for _ in range(400):
                r = await shop.http.get(url, headers=shop.admin)
                if r.json()["data"]["pendingAction"] is None:
                    break
                await asyncio.sleep(0.05)
            assert r.json()["data"]["pendingAction"] is None and not r.json()["data"]["paused"]
