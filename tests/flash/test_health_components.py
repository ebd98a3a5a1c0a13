"""``/api/health`` reports every component - database, chain, scanner lag, pools, job queue
depth, bots - with one overall status: ``ok``; ``degraded`` (200) when a non-critical part
needs a look; ``down`` (503, never a 500) when a critical one fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.node import FaultRule
from trondevnet.server import DevnetServer
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.api.state import AppState
from tronrent.entrypoints.api import chain_health_lifespan
from tronrent.entrypoints.health import (
    SCANNER_LAG_DEGRADED_BLOCKS,
    components_health_lifespan,
    scanner_check,
)
from tronrent.entrypoints.telegram import TELEGRAM_COMPONENT, build_manager
from tronrent.flash.api_deps import CHAIN_COMPONENT
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.models.scanner_checkpoint import ScannerCheckpoint

from .test_endpoints import Api, open_api

COMPONENTS = {"database", "chain", "scanner", "pools", "queue", "bots"}


@pytest.fixture
async def app(
    devnet: DevnetServer, gateway: TronGateway, database_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    hooks = (chain_health_lifespan, components_health_lifespan)
    async with open_api(devnet, gateway, database_url, tmp_path, extra_hooks=hooks) as opened:
        yield opened


async def health(api: Api) -> tuple[int, dict[str, Any]]:
    r = await api.http.get("/api/health")
    body = r.json()
    report = body["data"] if body["success"] else body["error"]["details"]
    return r.status_code, report


async def test_every_component_reported_ok(app: Api) -> None:
    status, report = await health(app)
    assert status == 200, report
    checks = report["checks"]
    assert set(checks) >= COMPONENTS, checks
    assert report["status"] == "ok", {k: v for k, v in checks.items() if v["status"] != "ok"}
    scanner = checks["scanner"]
    assert scanner["status"] == "ok" and scanner["critical"] is False
    assert scanner["lagBlocks"] >= 0
    assert scanner["scannedBlock"] <= scanner["headBlock"]
    pools = checks["pools"]
    assert pools["pools"] == pools["active"] == pools["withCapacity"] == 1
    assert pools["availableEnergy"] > 0
    queue = checks["queue"]
    assert queue["backend"] == "memory" and set(queue["depth"]) == {"high", "medium", "low"}
    assert checks["bots"] == {
        "status": "ok",
        "inProcess": False,
        "latencyMs": checks["bots"]["latencyMs"],
        "critical": False,
    }


async def test_no_pool_in_service_is_degraded_not_down(app: Api) -> None:
    assert app.state is not None
    async with app.state.session_maker() as s:
        await s.execute(update(EnergyPool).values(status=PoolStatus.MAINTENANCE))
        await s.commit()
    status, report = await health(app)
    assert status == 200
    assert report["status"] == "degraded"
    assert report["checks"]["pools"]["status"] == "degraded"
    assert report["checks"]["pools"]["problems"] == ["no active pool"]
    assert report["checks"]["database"]["status"] == "ok"


async def test_a_bot_that_cannot_start_is_degraded(app: Api) -> None:
    assert app.state is not None
    manager = build_manager(app.state, reload_interval=0)
    missing = uuid.uuid4()
    manager.wanted = {missing}  # active in the table, never started (its token refused)
    app.state.components[TELEGRAM_COMPONENT] = manager
    try:
        status, report = await health(app)
    finally:
        app.state.components.pop(TELEGRAM_COMPONENT)
        await manager.dispatcher.storage.close()
    assert status == 200 and report["status"] == "degraded"
    bots = report["checks"]["bots"]
    assert bots["status"] == "degraded"
    assert bots["active"] == 1 and bots["running"] == 0 and bots["notRunning"] == [str(missing)]


async def test_the_node_down_is_a_503_never_a_500(app: Api) -> None:
    app.devnet.node.set_fault(FaultRule(error_rate=1.0))
    try:
        status, report = await health(app)
    finally:
        app.devnet.node.clear_faults()
    assert status == 503, report
    assert report["status"] == "down"
    assert report["checks"]["chain"]["status"] == "down"
    assert report["checks"]["chain"]["critical"] is True
    assert report["checks"]["scanner"]["status"] == "down"  # it needs the head too
    assert report["checks"]["database"]["status"] == "ok"
    for _ in range(100):  # the node is back: the gateway takes it again after its backoff
        status, report = await health(app)
        if status == 200:
            break
        await asyncio.sleep(0.2)
    assert status == 200 and report["checks"]["chain"]["status"] == "ok", report


class _State:
    """What the scanner check reads of the app state."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], chain: TronGateway) -> None:
        self.session_maker = maker
        self.components = {CHAIN_COMPONENT: chain}

        class _Settings:
            confirmations = 0
            block_interval_ms = 3_000  # mainnet's: the limit is 20 blocks

        self.settings = _Settings()


async def test_a_scanner_behind_or_without_leader_is_degraded(
    devnet: DevnetServer,
    gateway: TronGateway,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    scanner = scanner_check(cast(AppState, _State(session_maker, gateway)))

    async def check() -> dict[str, Any]:
        return cast(dict[str, Any], await scanner())

    assert (await check())["status"] == "degraded"  # never ran: no checkpoint
    head = await gateway.get_head_block_number()
    async with session_maker() as s:
        s.add(ScannerCheckpoint(name="main", block_number=head, leader_id=None))
        await s.commit()
    devnet.node.produce(SCANNER_LAG_DEGRADED_BLOCKS + 5)
    report = await check()  # the checkpoint 25+ blocks behind, no lease held
    assert report["status"] == "degraded"
    assert report["lagBlocks"] >= SCANNER_LAG_DEGRADED_BLOCKS + 5
    assert report["problems"][0].endswith("blocks behind the head")
    assert report["problems"][1] == "no scanner holds the lease"
