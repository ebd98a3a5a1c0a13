"""Fixtures: an in-process devnet with fast blocks and an unmodified tronpy AsyncTron on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio
from tronpy import AsyncTron
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.providers.async_http import AsyncHTTPProvider

from trondevnet.server import DevnetServer
from trondevnet.testing import devnet_fixture

devnet = devnet_fixture(block_interval_ms=50)


@pytest_asyncio.fixture
async def tron(devnet: DevnetServer) -> AsyncIterator[AsyncTron]:
    # tronpy pitfalls: the URL needs its trailing slash; pass our own httpx client.
    client = AsyncTron(AsyncHTTPProvider(devnet.url, client=httpx.AsyncClient(timeout=10)))
    yield client
    await client.close()


@pytest_asyncio.fixture
async def http(devnet: DevnetServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=devnet.url, timeout=10) as client:
        yield client


Funder = Callable[..., TronpyKey]


@pytest.fixture
def funded(devnet: DevnetServer) -> Funder:
    """funded(trx_sun, usdt_units=0): a fresh tronpy key with an on-chain account."""

    def make(trx_sun: int = 0, usdt_units: int = 0) -> TronpyKey:
        key = TronpyKey.random()
        devnet.chain.faucet(bytes.fromhex(key.public_key.to_hex_address()), trx_sun, usdt_units)
        return key

    return make
