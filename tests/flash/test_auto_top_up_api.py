"""Auto top-up routes on the devnet (SQLite and PostgreSQL): set up for a customer's address by
an operator, listed, seen with its uses, stopped with a reason (energy reclaimed, customer
told); bad input answers 4xx with a code."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from package_orders import new_user
from trondevnet.testing import funded_key
from tronrent.adapters.tron.gateway import TronGateway

from .conftest import TRX
from .test_endpoints import Api
from .test_packages import sessions, wait_order

URL = "/api/admin/auto-top-ups"


async def user_with(api: Api, trx_sun: int) -> str:
    async with sessions(api)() as s:
        user = await new_user(s, trx_sun=trx_sun)
        await s.commit()
        return str(user.id)


class TestRoutes:
    async def test_set_up_listed_and_stopped(self, shop: Api, gateway: TronGateway) -> None:
        user_id = await user_with(shop, 10 * TRX)
        address = funded_key(shop.devnet.chain, TRX).address_base58
        body = {"userId": user_id, "address": address, "priceUnits": 2 * TRX}
        r = await shop.http.post(URL, json=body)
        assert r.status_code == 401
        r = await shop.http.post(URL, json=body, headers=shop.admin)
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["thresholdEnergy"] == 65_000 and data["heldEnergy"] == 66_300
        assert data["billedUnits"] == 2 * TRX and data["stoppedReason"] is None
        order_id = data["orderId"]
        view = await wait_order(shop, order_id, "active")
        assert view["orderType"] == "auto_top_up"
        # one follower per address
        r = await shop.http.post(URL, json=body, headers=shop.admin)
        assert r.status_code == 409 and r.json()["error"]["code"] == "ADDRESS_ALREADY_FOLLOWED"
        r = await shop.http.get(URL, headers=shop.admin)
        assert [a["orderId"] for a in r.json()["data"]["items"]] == [order_id]
        r = await shop.http.get(f"{URL}/{order_id}", headers=shop.admin)
        assert r.status_code == 200 and r.json()["data"]["uses"] == []

        stop = f"{URL}/{order_id}/stop"
        r = await shop.http.post(stop, json={"reason": " "}, headers=shop.admin)
        assert r.status_code == 422 and r.json()["error"]["code"] == "REASON_REQUIRED"
        r = await shop.http.post(stop, json={"reason": "customer asked"}, headers=shop.admin)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["stoppedReason"] == "operator"
        assert r.json()["data"]["stopNote"].endswith(": customer asked")
        await wait_order(shop, order_id, "completed", wait_s=30)
        for _ in range(200):
            res = await gateway.get_account_resource(address)
            if res.energy_limit == 0:
                break
            await asyncio.sleep(0.05)
        assert res.energy_limit == 0
        r = await shop.http.post(stop, json={"reason": "again"}, headers=shop.admin)
        assert r.status_code == 409 and r.json()["error"]["code"] == "AUTO_TOP_UP_NOT_ACTIVE"
        r = await shop.http.get(URL, headers=shop.admin)
        assert r.json()["data"]["total"] == 0
        r = await shop.http.get(URL, params={"active": "false"}, headers=shop.admin)
        assert r.json()["data"]["total"] == 1

    async def test_bad_input_is_4xx(self, shop: Api) -> None:
        poor = await user_with(shop, TRX)
        address = funded_key(shop.devnet.chain, TRX).address_base58
        cases: list[tuple[dict[str, Any], int, str | None]] = [
            ({"userId": poor, "address": address, "priceUnits": 2 * TRX}, 409, None),
            ({"userId": str(uuid.uuid4()), "address": address, "priceUnits": 1}, 404, None),
            ({"userId": poor, "address": "T123", "priceUnits": 1}, 422, None),
            ({"userId": poor, "address": address, "priceUnits": 0}, 422, None),
            (
                {"userId": poor, "address": address, "priceUnits": 1, "thresholdEnergy": 5},
                422,
                None,
            ),
            ({"userId": poor, "address": address, "priceUnits": 1, "currency": "BTC"}, 422, None),
        ]
        for body, status, _ in cases:
            r = await shop.http.post(URL, json=body, headers=shop.admin)
            assert r.status_code == status, (body, r.text)
        r = await shop.http.post(
            URL,
            json={"userId": poor, "address": address, "priceUnits": 2 * TRX},
            headers=shop.admin,
        )
        assert r.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
        r = await shop.http.get(f"{URL}/ORD_1700000000000_aaaaaaaaa", headers=shop.admin)
        assert r.status_code == 404 and r.json()["error"]["code"] == "AUTO_TOP_UP_NOT_FOUND"
        r = await shop.http.post(
            f"{URL}/ORD_1700000000000_aaaaaaaaa/stop", json={"reason": "x"}, headers=shop.admin
        )
        assert r.status_code == 404
