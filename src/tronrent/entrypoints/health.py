"""The component checks of ``/api/health`` beyond database, Redis and chain: scanner lag, pools,
job queue depth and bots. Each is non-critical: a lagging scanner or a bot that cannot start
makes the service ``degraded`` (200, operators look), never ``down`` (503, taken out of the load
balancer) - the API still answers. Components are looked up per check, so a check of a part
this process does not run says so instead of failing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from tronrent.adapters.tron.port import ChainPort
from tronrent.api.health import DEGRADED, OK, HealthCheck
from tronrent.api.state import AppState
from tronrent.entrypoints.telegram import TELEGRAM_COMPONENT
from tronrent.flash.api_deps import CHAIN_COMPONENT, ENGINE_COMPONENT, RUNTIME_COMPONENT
from tronrent.flash.engine import FlashEngine
from tronrent.pool.service import pool as pool_service
from tronrent.scanner.service import scanner_position
from tronrent.telegram.manager import BotManager

#: the scanner this many blocks behind the head (beyond its confirmations) is degraded: one
#: minute of mainnet blocks (deploy/alerts.yml ScannerLagging uses the same figure); on a
#: chain with faster blocks (the devnet) a minute's worth of them
SCANNER_LAG_DEGRADED_BLOCKS: Final = 20
SCANNER_LAG_DEGRADED_MS: Final = 60_000
#: jobs waiting or running above this many: degraded (workers not keeping up)
QUEUE_DEPTH_DEGRADED: Final = 10_000
#: energy one USDT transfer needs when the runtime is not running (its default otherwise)
_ONE_TRANSFER_ENERGY: Final = 65_000
CHECKS: Final = ("scanner", "pools", "queue", "bots")


def _verdict(problems: list[str], report: dict[str, Any]) -> dict[str, Any]:
    report["status"] = DEGRADED if problems else OK
    if problems:
        report["problems"] = problems
    return report


def scanner_check(state: AppState) -> HealthCheck:
    async def check() -> dict[str, Any]:
        chain: ChainPort | None = state.components.get(CHAIN_COMPONENT)
        if chain is None:
            raise RuntimeError("chain gateway not started")
        # the checkpoint first, the head after: a block scanned between the two reads cannot
        # put the scanner ahead of the head (and a node a little behind the one the scanner
        # read from is not a lag: the head is at least the block scanned)
        async with state.session_maker() as s:
            position = await scanner_position(s)
        head = await chain.get_head_block_number()
        if position is None:
            return _verdict(["the scanner never ran"], {"headBlock": head})
        head = max(head, position.block_number)
        lag = max(0, head - state.settings.confirmations - position.block_number)
        limit = max(
            SCANNER_LAG_DEGRADED_BLOCKS, SCANNER_LAG_DEGRADED_MS // state.settings.block_interval_ms
        )
        problems = []
        if lag > limit:
            problems.append(f"{lag} blocks behind the head")
        if not position.led:
            problems.append("no scanner holds the lease")
        return _verdict(
            problems,
            {"headBlock": head, "scannedBlock": position.block_number, "lagBlocks": lag},
        )

    return check


def pools_check(state: AppState) -> HealthCheck:
    async def check() -> dict[str, Any]:
        rt = state.components.get(RUNTIME_COMPONENT)
        min_energy = int(getattr(rt, "default_energy", _ONE_TRANSFER_ENERGY))
        async with state.session_maker() as s:
            summary = await pool_service.capacity_summary(s, min_energy=min_energy)
        problems = []
        if not summary["active"]:
            problems.append("no active pool")
        elif not summary["withCapacity"]:
            problems.append("no active pool can delegate one transfer's energy")
        return _verdict(problems, dict(summary))

    return check


def queue_check(state: AppState) -> HealthCheck:
    async def check() -> dict[str, Any]:
        engine: FlashEngine | None = state.components.get(ENGINE_COMPONENT)
        if engine is None:
            return {"inProcess": False}
        depth = await engine.queue.depth()
        total = sum(depth.values())
        problems = [f"{total} jobs queued"] if total > QUEUE_DEPTH_DEGRADED else []
        return _verdict(
            problems,
            {"backend": "memory" if engine.queue.is_in_memory else "redis", "depth": depth},
        )

    return check


def bots_check(state: AppState) -> HealthCheck:
    async def check() -> dict[str, Any]:
        manager = state.components.get(TELEGRAM_COMPONENT)
        if not isinstance(manager, BotManager):
            return {"inProcess": False}
        status = manager.status()
        problems = [f"{len(status['notRunning'])} active bot(s) not running"]
        return _verdict(problems if status["notRunning"] else [], status)

    return check


@asynccontextmanager
async def components_health_lifespan(state: AppState) -> AsyncIterator[None]:
    """Register the scanner, pools, queue and bots checks (non-critical)."""
    for name, factory in zip(
        CHECKS, (scanner_check, pools_check, queue_check, bots_check), strict=True
    ):
        state.health.register(name, factory(state), critical=False)
    try:
        yield
    finally:
        for name in CHECKS:
            state.health.unregister(name)
