"""Chain gateway fixtures: an in-process devnet with fast blocks and a TronGateway on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from trondevnet.server import DevnetServer
from trondevnet.testing import devnet_fixture
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway

devnet = devnet_fixture(block_interval_ms=50)

TRX = 1_000_000  # sun


@pytest_asyncio.fixture
async def gateway(devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([devnet.url], timeout_s=5, backoff_base_s=0.02) as gw:
        yield gw


Funder = Callable[..., PrivateKey]


@pytest.fixture
def funded(devnet: DevnetServer) -> Funder:
    """funded(trx_sun): a fresh key whose account exists with that balance."""

    def make(trx_sun: int = 0) -> PrivateKey:
        key = PrivateKey.random()
        devnet.chain.faucet(key.address, trx_sun)
        return key

    return make
