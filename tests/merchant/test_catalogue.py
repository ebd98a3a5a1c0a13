"""The merchant route's catalogue (packages and price rules) kept per process: an operator's
change through the admin API applies to the very next order, on both databases."""

from __future__ import annotations

from typing import Any

from flash.test_endpoints import Api
from trondevnet.testing import funded_key
from tronrent.product.catalogue import catalogues

from .conftest import TRX, new_merchant
from .test_api import error, order_body

PACKAGES = "/api/admin/energy-packages"
CONFIGS = "/api/admin/price-configs"


async def package_65k_1h(api: Api) -> dict[str, Any]:
    every = (await api.http.get(PACKAGES, headers=api.admin)).json()["data"]
    return next(
        p
        for p in every
        if p["packageType"] == "energy" and p["energyAmount"] == 65_000 and p["durationHours"] == 1
    )


async def test_an_operators_change_applies_to_the_next_order(api: Api) -> None:
    m = await new_merchant(api, trx_sun=100 * TRX)
    receiver = funded_key(api.devnet.chain, TRX).address_base58

    async def price(client_id: str) -> int:
        r = await m.call("POST", "/api/v1/orders", order_body(client_id, receiver))
        assert r.status_code == 201, r.text
        return int(r.json()["data"]["priceUnits"])

    catalogues.forget()
    assert await price("before") == 2 * TRX
    loads = catalogues.loads
    assert await price("cached") == 2 * TRX
    assert catalogues.loads == loads  # the second order read no catalogue

    pkg = await package_65k_1h(api)
    url = f"{PACKAGES}/{pkg['packageId']}"
    edit = await api.http.patch(
        url, json={"trxPriceSun": 3 * TRX, "reason": "TRX fell"}, headers=api.admin
    )
    assert edit.status_code == 200, edit.text
    assert await price("new-price") == 3 * TRX
    assert catalogues.loads == loads + 1

    rule = await api.http.post(
        CONFIGS,
        json={
            "configName": "merchant price",
            "currency": "TRX",
            "packageId": pkg["packageId"],
            "basePriceUnits": 5 * TRX // 2,
            "priority": 10,
            "reason": "a rule for this package",
        },
        headers=api.admin,
    )
    assert rule.status_code == 201, rule.text
    assert await price("ruled") == 5 * TRX // 2

    off = await api.http.patch(url, json={"isActive": False, "reason": "off"}, headers=api.admin)
    assert off.status_code == 200, off.text
    r = await m.call("POST", "/api/v1/orders", order_body("off-sale", receiver))
    assert r.status_code == 422 and error(r) == "NO_MATCHING_PACKAGE", r.text
