"""The scanner tests' devnet (blocks made on demand) and a gateway to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from trondevnet.server import DevnetServer
from tronrent.adapters.tron.gateway import TronGateway


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    async with DevnetServer(port=0, block_interval_ms=100, produce_blocks=False) as server:
        yield server


@pytest.fixture
async def gateway(devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([devnet.url], timeout_s=5, backoff_base_s=0.02) as gw:
        yield gw
