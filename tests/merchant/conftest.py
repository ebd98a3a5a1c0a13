"""Merchant API on the devnet: the flash fixtures, a customer with a balance and an API key
made through the admin API, and a client that signs its requests."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from flash.conftest import box, box_key, devnet, flash, gateway  # noqa: F401 - fixtures
from flash.test_endpoints import Api, open_api
from package_orders import new_user
from trondevnet.server import DevnetServer
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.db import transaction_scope
from tronrent.merchant import signing

TRX = 1_000_000


@dataclass
class Merchant:
    """A customer's signed client: ``await m.call("POST", "/api/v1/orders", {...})``."""

    http: httpx.AsyncClient
    key_id: str
    secret: str
    user_id: str

    def headers(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        ts: int | None = None,
        nonce: str | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if ts is None else ts)
        nonce = nonce or secrets.token_hex(12)
        sig = signing.sign_request(
            secret or self.secret, timestamp=stamp, method=method, path=path, nonce=nonce, body=body
        )
        return {
            "X-Api-Key": self.key_id,
            "X-Timestamp": stamp,
            "X-Nonce": nonce,
            "X-Signature": sig,
            "Content-Type": "application/json",
        }

    async def call(self, method: str, path: str, payload: Any = None, **kw: Any) -> httpx.Response:
        body = b"" if payload is None else json.dumps(payload).encode()
        return await self.http.request(
            method, path, content=body, headers=self.headers(method, path, body, **kw)
        )


async def new_merchant(
    api: Api, *, trx_sun: int = 100 * TRX, usdt_units: int = 0, **key_kw: Any
) -> Merchant:
    assert api.state is not None
    async with transaction_scope(api.state.session_maker) as s:
        user = await new_user(s, trx_sun=trx_sun, usdt_units=usdt_units)
    r = await api.http.post(
        "/api/admin/merchant/keys",
        json={"userId": str(user.id), "name": "shop", "reason": "onboarding", **key_kw},
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    return Merchant(api.http, data["keyId"], data["secret"], str(user.id))


@pytest.fixture
async def api(
    devnet: DevnetServer,  # noqa: F811
    gateway: TronGateway,  # noqa: F811
    database_url: str,
    tmp_path: Any,
) -> AsyncIterator[Api]:
    async with open_api(devnet, gateway, database_url, tmp_path) as opened:
        yield opened
