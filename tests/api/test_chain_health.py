"""``/api/health`` reports the chain: 200 while the node answers with a fresh head block,
503 when block production stops or the node is gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from api.conftest import RunApp
from trondevnet.server import DevnetServer
from trondevnet.testing import devnet_fixture
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.api.app import LifespanHook, create_app
from tronrent.api.state import AppState
from tronrent.config import Settings
from tronrent.entrypoints.api import CHAIN_STALE_BLOCKS, chain_health_lifespan
from tronrent.flash.api_deps import CHAIN_COMPONENT

BLOCK_MS = 50
devnet = devnet_fixture(block_interval_ms=BLOCK_MS)


def _gateway_hook(gateway: TronGateway) -> LifespanHook:
    @asynccontextmanager
    async def hook(state: AppState) -> AsyncIterator[None]:
        state.components[CHAIN_COMPONENT] = gateway
        yield

    return hook


async def test_chain_check_follows_the_node(
    devnet: DevnetServer, make_settings: Callable[..., Settings], database_url: str, run_app: RunApp
) -> None:
    settings: Settings = make_settings(database_url=database_url, block_interval_ms=BLOCK_MS)
    async with TronGateway([devnet.url], max_attempts=1, max_wait_s=0.5) as gateway:
        app = create_app(settings, lifespan_hooks=[_gateway_hook(gateway), chain_health_lifespan])
        async with run_app(app) as http:
            r = await http.get("/api/health")
            assert r.status_code == 200, r.text
            chain = r.json()["data"]["checks"]["chain"]
            assert chain["status"] == "ok" and chain["headBlock"] >= 0

            devnet.node.paused = True  # the node answers, but its head gets old
            await asyncio.sleep((CHAIN_STALE_BLOCKS + 5) * BLOCK_MS / 1000)
            r = await http.get("/api/health")
            assert r.status_code == 503, r.text
            error = r.json()["error"]
            assert error["code"] == "SERVICE_UNAVAILABLE" and "chain" in error["message"]
            devnet.node.paused = False
            await asyncio.sleep(3 * BLOCK_MS / 1000)
            r = await http.get("/api/health")
            assert r.status_code == 200, r.text
