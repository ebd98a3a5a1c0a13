"""The customer's own auto top-up through the merchant API on the devnet (SQLite and
PostgreSQL): offered once an operator sets its price, set up from the balance and delegated,
listed and seen (another customer's is not found), stopped by the customer (energy taken back,
the customer told); paused (energy taken back, a transfer not followed nor billed) and resumed
(delegated again, the next transfer topped up and billed); bad input answers 4xx with a code."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from flash.test_count_packages import EXISTING, USDT
from flash.test_endpoints import Api
from flash.test_packages import send_usdt
from trondevnet.testing import funded_key
from tronrent.count import auto
from tronrent.kit.time import utcnow
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order

from .conftest import TRX, new_merchant

URL = "/api/v1/auto-top-ups"
PRICE = 2 * TRX


async def offer(api: Api, price: int) -> None:
    r = await api.http.put(
        "/api/admin/system-configs/auto_top_up.price_trx_sun",
        json={"value": price, "reason": "auto top-up for customers"},
        headers=api.admin,
    )
    assert r.status_code == 200, r.text


async def wait_status(m: object, order_id: str, status: str) -> dict[str, object]:
    from .conftest import Merchant

    assert isinstance(m, Merchant)
    data: dict[str, object] = {}
    for _ in range(400):
        r = await m.call("GET", f"{URL}/{order_id}")
        data = r.json()["data"]
        if data["status"] == status:
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"{order_id} is {data.get('status')}, not {status}")


class TestCustomerAutoTopUp:
    async def test_set_up_seen_and_stopped_by_the_customer(self, api: Api) -> None:
        m = await new_merchant(api, trx_sun=10 * TRX)
        other = await new_merchant(api, trx_sun=10 * TRX)
        address = funded_key(api.devnet.chain, TRX).address_base58
        body = {"address": address, "thresholdEnergy": 65_000}

        r = await api.http.post(URL, json=body)  # not signed
        assert r.status_code == 401
        r = await m.call("POST", URL, body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "AUTO_TOP_UP_NOT_OFFERED"
        await offer(api, PRICE)
        for bad, code in (
            ({"address": address, "thresholdEnergy": 5}, "VALIDATION_ERROR"),
            ({"address": "T-not-an-address"}, "INVALID_ADDRESS"),
            ({"address": address, "currency": "USDT"}, "AUTO_TOP_UP_NOT_OFFERED"),
        ):
            r = await m.call("POST", URL, bad)
            assert r.status_code in (409, 422) and r.json()["error"]["code"] == code, r.text
        poor = await new_merchant(api, trx_sun=TRX)
        r = await poor.call("POST", URL, body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_BALANCE"

        r = await m.call("POST", URL, body)
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        order_id = data["orderId"]
        assert data["priceUnits"] == PRICE and data["billedUnits"] == PRICE
        assert data["thresholdEnergy"] == 65_000 and data["userId"] == m.user_id
        r = await m.call("GET", "/api/v1/balance")
        assert r.json()["data"]["trxSun"] == 10 * TRX - PRICE
        await wait_status(m, order_id, "active")
        r = await other.call("POST", URL, body)  # one follower per address
        assert r.status_code == 409 and r.json()["error"]["code"] == "ADDRESS_ALREADY_FOLLOWED"

        r = await m.call("GET", URL)
        assert [a["orderId"] for a in r.json()["data"]["items"]] == [order_id]
        r = await other.call("GET", URL)
        assert r.json()["data"] == {"items": [], "total": 0}
        for method, path in (("GET", f"{URL}/{order_id}"), ("POST", f"{URL}/{order_id}/stop")):
            r = await other.call(method, path)
            assert r.status_code == 404 and r.json()["error"]["code"] == "AUTO_TOP_UP_NOT_FOUND"

        r = await m.call("POST", f"{URL}/{order_id}/stop")
        assert r.status_code == 200, r.text
        stopped = r.json()["data"]
        assert stopped["stoppedReason"] == "customer"
        assert stopped["stopNote"] == f"merchant:{m.key_id}: stopped by the customer"
        r = await m.call("POST", f"{URL}/{order_id}/stop", {"reason": "again"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "AUTO_TOP_UP_NOT_ACTIVE"
        await wait_status(m, order_id, "completed")
        assert api.state is not None
        for _ in range(200):
            res = await api.state.components["chain"].get_account_resource(address)
            if res.energy_limit == 0:
                break
            await asyncio.sleep(0.05)
        assert res.energy_limit == 0  # our energy taken back
        async with api.state.session_maker() as s:
            events = list(
                (
                    await s.execute(
                        select(NotificationOutbox.event_type, NotificationOutbox.payload).where(
                            NotificationOutbox.order_id == order_id
                        )
                    )
                ).all()
            )
        assert [p["reason"] for e, p in events if e == auto.STOPPED_EVENT] == ["customer"]
        r = await m.call("GET", URL, None)
        assert r.json()["data"]["total"] == 0  # active only by default


async def _until(check: Any, tries: int = 400) -> Any:
    for _ in range(tries):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("not reached")


class TestCustomerPausesAndResumes:
    async def test_paused_taken_back_not_followed_then_resumed_and_billed(self, api: Api) -> None:
        assert api.state is not None
        chain = api.state.components["chain"]
        await offer(api, PRICE)
        m = await new_merchant(api, trx_sun=10 * TRX)
        other = await new_merchant(api, trx_sun=10 * TRX)
        wallet = funded_key(api.devnet.chain, 50 * TRX, usdt_units=100 * USDT)
        holder = funded_key(api.devnet.chain, TRX, usdt_units=USDT).address_base58
        address = wallet.address_base58
        r = await m.call("POST", URL, {"address": address})
        assert r.status_code == 201, r.text
        order_id = r.json()["data"]["orderId"]
        await wait_status(m, order_id, "active")

        async def energy() -> int:
            res = await chain.get_account_resource(address)
            return int(res.energy_limit - res.energy_used)

        await _until(lambda: _at_least(energy, EXISTING))
        r = await other.call("POST", f"{URL}/{order_id}/pause")
        assert r.status_code == 404 and r.json()["error"]["code"] == "AUTO_TOP_UP_NOT_FOUND"
        r = await m.call("POST", f"{URL}/{order_id}/pause")
        assert r.status_code == 200, r.text
        assert r.json()["data"]["paused"] is True
        assert r.json()["data"]["pendingAction"] == "pause"

        async def settled() -> dict[str, Any] | None:
            data: dict[str, Any] = (await m.call("GET", f"{URL}/{order_id}")).json()["data"]
            return data if data["pendingAction"] is None else None

        await _until(settled)
        await _until(lambda: _at_most(energy, 0))  # our energy taken back
        r = await m.call("POST", f"{URL}/{order_id}/pause")  # again: nothing more
        assert r.status_code == 200 and r.json()["data"]["pendingAction"] is None
        paused_tx = send_usdt(api, wallet, holder, USDT)  # not followed: not billed

        r = await m.call("POST", f"{URL}/{order_id}/resume")
        assert r.status_code == 200 and r.json()["data"]["paused"] is False
        await _until(settled)
        await _until(lambda: _at_least(energy, EXISTING))  # delegated again
        used_tx = send_usdt(api, wallet, holder, USDT)

        async def billed() -> dict[str, Any] | None:
            data: dict[str, Any] = (await m.call("GET", f"{URL}/{order_id}")).json()["data"]
            done = any(u["status"] == "topped_up" for u in data["uses"])
            return data if data["topUps"] == 1 and done else None

        data = await _until(billed)
        billed_uses = [u["txHash"] for u in data["uses"] if u["status"] == "topped_up"]
        assert billed_uses == [used_tx]
        # the scanner may still have followed the address for the block of the paused one
        # (its list is refreshed per poll): recorded then, but neither counted nor billed
        assert all(
            u["status"] == "not_counted" and u["counts"] == 0
            for u in data["uses"]
            if u["txHash"] == paused_tx
        )
        assert data["billedUnits"] == 2 * PRICE
        r = await m.call("GET", "/api/v1/balance")
        assert r.json()["data"]["trxSun"] == 10 * TRX - 2 * PRICE

        # paused past its lifetime: count.life completes it (nothing of ours left to reclaim)
        r = await m.call("POST", f"{URL}/{order_id}/pause")
        assert r.status_code == 200, r.text
        await _until(settled)
        await _until(lambda: _at_most(energy, 0))
        async with api.state.session_maker() as s, s.begin():
            await s.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        await wait_status(m, order_id, "completed")
        async with api.state.session_maker() as s:
            statuses = (
                await s.execute(
                    select(EnergyDelegation.status).where(EnergyDelegation.order_id == order_id)
                )
            ).scalars()
            assert set(statuses) == {DelegationStatus.EXPIRED}

        # stopped while paused: completed at once
        second = funded_key(api.devnet.chain, TRX).address_base58
        r = await m.call("POST", URL, {"address": second})
        assert r.status_code == 201, r.text
        other_id = r.json()["data"]["orderId"]
        await wait_status(m, other_id, "active")
        r = await m.call("POST", f"{URL}/{other_id}/pause")
        assert r.status_code == 200, r.text

        async def other_settled() -> bool:
            data = (await m.call("GET", f"{URL}/{other_id}")).json()["data"]
            return data["pendingAction"] is None

        await _until(other_settled)
        r = await m.call("POST", f"{URL}/{other_id}/stop")
        assert r.status_code == 200, r.text
        assert r.json()["data"]["status"] == "completed"
        assert r.json()["data"]["stoppedReason"] == "customer"


async def _at_least(read: Any, n: int) -> bool:
    return bool(await read() >= n)


async def _at_most(read: Any, n: int) -> bool:
    return bool(await read() <= n)
