# ruff: noqa: F811  (the api fixture is imported from test_endpoints)
"""Chain reads and pool keys at the API edge: an address with no account is a 200 with
``exists: false``; a private key of zero or at/above the curve order is a 422, never a 500."""

from __future__ import annotations

import pytest

from trondevnet.testing import new_key
from tronproto.keys import SECP256K1_ORDER

from .test_endpoints import Api, api  # noqa: F401  (the fixture)


async def test_balance_of_an_address_with_no_account(api: Api) -> None:
    address = new_key().address_base58
    r = await api.http.get(f"/api/tron/balance/{address}")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["exists"] is False and data["address"] == address
    assert data["balanceSun"] == 0 and data["energy"] == 0 and data["bandwidth"] == 0
    r = await api.http.get(f"/api/tron/balance/{api.pool.tron_address}")
    assert r.status_code == 200 and r.json()["data"]["exists"] is True


@pytest.mark.parametrize(
    "key", ["00" * 32, f"{SECP256K1_ORDER:064x}", f"{SECP256K1_ORDER + 1:064x}", "ff" * 32]
)
async def test_pool_key_outside_the_curve_is_422(api: Api, key: str) -> None:
    for force in (False, True):
        r = await api.http.post(
            "/api/energy-pools",
            headers=api.admin,
            json={"privateKey": key, "name": "bad", "force": force},
        )
        assert r.status_code == 422, r.text
        assert "curve order" in r.json()["error"]["message"]
        assert key not in r.text
