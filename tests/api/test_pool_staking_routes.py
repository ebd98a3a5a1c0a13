"""Staking and delegate-only pools over HTTP (devnet, both databases): admin only, the chain's
figures, a stake recorded with the admin and the reason, clear 4xx, keys never returned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from test_pool_routes import bearer, error, url

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.api.app import create_app
from tronrent.config import Settings
from tronrent.flash.api_deps import CHAIN_COMPONENT
from tronrent.models import EnergyPool
from tronrent.pool import endpoints as pool_endpoints
from tronrent.pool.service import pool as pool_service

TRX = 1_000_000


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    async with DevnetServer(port=0, block_interval_ms=100) as server:
        yield server


@pytest.fixture
async def gateway(devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([devnet.url], timeout_s=5, backoff_base_s=0.02) as gw:
        yield gw


@pytest.fixture
def http_app(settings: Settings) -> FastAPI:
    return create_app(settings, routers=[pool_endpoints.router])


@pytest.fixture
async def http(http_app: FastAPI, run_app: Any, gateway: TronGateway) -> Any:
    async with run_app(http_app) as client:
        http_app.state.tronrent.components[CHAIN_COMPONENT] = gateway
        yield client


@pytest.fixture
async def admin(http: Any, make_admin: Any, admin_password: str) -> dict[str, str]:
    username, _ = await make_admin("admin")
    return await bearer(http, username, admin_password)


@pytest.fixture
async def pool(
    http_app: FastAPI, http: Any, devnet: DevnetServer, gateway: TronGateway
) -> EnergyPool:
    key = funded_key(devnet.chain, 600 * TRX)
    submit(
        devnet.chain,
        key,
        "FreezeBalanceV2Contract",
        {"frozen_balance": 500 * TRX, "resource": "ENERGY"},
    )
    devnet.node.produce()
    state = http_app.state.tronrent
    async with state.session_maker() as s, s.begin():
        return await pool_service.add(s, state.secret_box, chain=gateway, private_key=key.hex())


@pytest.mark.parametrize(
    "method,tail,body",
    [
        ("GET", "/staking", None),
        ("POST", "/stake", {"amountSun": TRX, "reason": "r"}),
        ("POST", "/unstake", {"amountSun": TRX, "reason": "r"}),
        ("POST", "/withdraw", {"reason": "r"}),
        ("POST", "/cancel-unstake", {"reason": "r"}),
    ],
)
async def test_admin_only(
    http: Any,
    make_admin: Any,
    admin_password: str,
    pool: EnergyPool,
    method: str,
    tail: str,
    body: Any,
) -> None:
    assert error(await http.request(method, url(pool.id, tail), json=body), 401)
    username, _ = await make_admin("operator")
    operator = await bearer(http, username, admin_password)
    r = await http.request(method, url(pool.id, tail), json=body, headers=operator)
    assert error(r, 403)


async def test_stake_and_figures(http: Any, admin: dict[str, str], pool: EnergyPool) -> None:
    r = await http.get(url(pool.id, "/staking"), headers=admin)
    assert r.status_code == 200, r.text
    figs = r.json()["data"]
    assert figs["stakedEnergySun"] == 500 * TRX and figs["unstaking"] == []
    assert figs["unstakesLeft"] == 32 and figs["inFlight"] == []

    r = await http.post(
        url(pool.id, "/stake"), json={"amountSun": 40 * TRX, "reason": "more"}, headers=admin
    )
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert out["status"] == "confirmed" and len(out["txid"]) == 64
    assert out["staking"]["stakedEnergySun"] == 540 * TRX

    r = await http.post(
        url(pool.id, "/unstake"), json={"amountSun": 5 * TRX, "reason": "less"}, headers=admin
    )
    assert r.status_code == 200, r.text
    [pending] = r.json()["data"]["staking"]["unstaking"]
    assert pending["amountSun"] == 5 * TRX and pending["withdrawable"] is False

    changes = (await http.get(url(pool.id, "/changes"), headers=admin)).json()["data"]
    assert [(c["action"], c["reason"]) for c in changes] == [("unstake", "less"), ("stake", "more")]
    assert changes[1]["actor"].startswith("admin:")


@pytest.mark.parametrize(
    "tail,body,status,code",
    [
        ("/stake", {"amountSun": 10**9 * TRX, "reason": "r"}, 422, "STAKING_REFUSED"),
        ("/stake", {"amountSun": 0, "reason": "r"}, 422, "VALIDATION_ERROR"),
        ("/stake", {"amountSun": "1", "reason": ""}, 422, "VALIDATION_ERROR"),
        ("/stake", {"amountSun": TRX, "reason": "r", "extra": 1}, 422, "VALIDATION_ERROR"),
        ("/withdraw", {"reason": "r"}, 422, "STAKING_REFUSED"),
        ("/cancel-unstake", {"reason": "r"}, 422, "STAKING_REFUSED"),
    ],
)
async def test_bad_input_is_4xx(
    http: Any, admin: dict[str, str], pool: EnergyPool, tail: str, body: Any, status: int, code: str
) -> None:
    err = error(await http.post(url(pool.id, tail), json=body, headers=admin), status)
    assert err["code"] == code


async def test_unknown_pool_404(http: Any, admin: dict[str, str]) -> None:
    r = await http.get(url("00000000-0000-0000-0000-000000000000", "/staking"), headers=admin)
    assert error(r, 404)


async def test_add_delegate_only_pool(
    http: Any, admin: dict[str, str], devnet: DevnetServer, gateway: TronGateway
) -> None:
    owner, hot = funded_key(devnet.chain, 700 * TRX), PrivateKey.random()
    submit(
        devnet.chain,
        owner,
        "FreezeBalanceV2Contract",
        {"frozen_balance": 500 * TRX, "resource": "ENERGY"},
    )
    devnet.node.produce()
    tx = await gateway.build_delegate_only_permission(owner.address_base58, hot.address_base58)
    await gateway.broadcast(gateway.sign(tx, owner.hex()))
    devnet.node.produce()
    body = {"privateKey": hot.hex(), "ownerAddress": owner.address_base58, "permissionId": 3}
    r = await http.post("/api/energy-pools", json=body, headers=admin)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["address"] == owner.address_base58 and data["delegateOnly"] is True
    assert data["signerAddress"] == hot.address_base58 and data["permissionId"] == 3
    assert hot.hex() not in r.text
    # staking needs the owner key, which is offline
    r = await http.post(
        url(data["poolId"], "/stake"), json={"amountSun": TRX, "reason": "r"}, headers=admin
    )
    assert error(r, 409)["code"] == "POOL_OWNER_KEY_OFFLINE"
    bad = {**body, "permissionId": 1}
    assert error(await http.post("/api/energy-pools", json=bad, headers=admin), 422)
