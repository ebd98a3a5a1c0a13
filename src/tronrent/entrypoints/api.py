"""The ``tronrent serve`` process: the API app plus everything started alongside it.

Which parts run is ``SERVE_ROLES`` (``serve --role``): ``api``, ``engine``, ``bots`` or ``all``
(every one, the default; docs/operations.md, Scale-out).

Hook point for later issues: :func:`lifespan_hooks` returns the async context managers entered
(in order) after the database, Redis and auth state exist - start the in-process devnet when
``settings.embedded_chain``, the chain gateway (register ``state.health.register("chain", ...)``),
the workers and the block scanner there; they are stopped in reverse order on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import uvicorn
from fastapi import FastAPI

from tronrent.api.app import AppState, LifespanHook, create_app
from tronrent.config import Settings
from tronrent.kit.time import now_ms

#: a head block older than this many block intervals means the node is stuck or lagging
CHAIN_STALE_BLOCKS = 20


@asynccontextmanager
async def chain_health_lifespan(state: AppState) -> AsyncIterator[None]:
    """Register the ``chain`` check of ``/api/health``: the node answers and its head is fresh."""
    from tronrent.adapters.tron.port import ChainPort
    from tronrent.flash.api_deps import CHAIN_COMPONENT

    interval_ms = state.settings.block_interval_ms

    async def check() -> dict[str, Any]:
        chain: ChainPort | None = state.components.get(CHAIN_COMPONENT)
        if chain is None:
            raise RuntimeError("chain gateway not started")
        head = await chain.get_head_block()
        age_ms = max(0, now_ms() - head.timestamp_ms)
        if age_ms > CHAIN_STALE_BLOCKS * interval_ms:
            raise RuntimeError(f"head block {head.number} is {age_ms // 1000} s old")
        return {"headBlock": head.number, "headAgeMs": age_ms}

    state.health.register("chain", check)
    try:
        yield
    finally:
        state.health.unregister("chain")


def lifespan_hooks(settings: Settings) -> list[LifespanHook]:
    """Components started with the API, in start order, for the roles of this process
    (``SERVE_ROLES``, all by default): the devnet (embedded chain) and its demo pool, the chain
    gateway with the flash engine (engine: workers, scanner, sweeper, periodic jobs; otherwise
    only the gateway, runtime and the Redis job queue to send to), the merchant callbacks
    (engine), health checks, the Telegram bots (bots), the banner (api); then the startup
    heap frozen (`kit.heap`)."""
    from tronrent.entrypoints.devnet_bootstrap import banner_lifespan, devnet_lifespan
    from tronrent.entrypoints.health import components_health_lifespan
    from tronrent.entrypoints.telegram import telegram_lifespan
    from tronrent.flash.lifespan import flash_lifespan
    from tronrent.kit.heap import frozen_heap_lifespan
    from tronrent.merchant.lifespan import merchant_lifespan

    roles = set(settings.serve_roles)
    engine = "engine" in roles
    hooks: list[LifespanHook] = [
        devnet_lifespan,
        flash_lifespan if engine else partial(flash_lifespan, engine=False),
    ]
    if engine:
        hooks.append(merchant_lifespan)
    hooks += [chain_health_lifespan, components_health_lifespan]
    if "bots" in roles:
        hooks.append(telegram_lifespan)
    if "api" in roles:
        hooks.append(banner_lifespan)
    # last: every startup object exists - kept out of the collector's scans (`kit.heap`)
    hooks.append(frozen_heap_lifespan)
    return hooks


def build_app(settings: Settings) -> FastAPI:
    """The app of this process's roles: the whole API and the console with ``api``, the
    Telegram webhook route with ``bots``; a process without ``api`` serves only its probes
    (health, metrics) beside."""
    from tronrent.api.app import CORE_ROUTERS, PROBE_ROUTERS
    from tronrent.console.routers import CONSOLE_ROUTERS
    from tronrent.entrypoints.telegram import telegram_routers
    from tronrent.flash.routers import FLASH_ROUTERS

    roles = set(settings.serve_roles)
    api = "api" in roles
    return create_app(
        settings,
        core_routers=CORE_ROUTERS if api else PROBE_ROUTERS,
        routers=(
            *(FLASH_ROUTERS + CONSOLE_ROUTERS if api else ()),
            *(telegram_routers() if "bots" in roles else ()),
        ),
        lifespan_hooks=lifespan_hooks(settings),
    )


#: seconds an idle HTTP/1.1 connection is kept open: longer than load balancers' idle timeouts
#: (AWS ALB and nginx: 60 s) and clients' pool expiry (httpx 5 s, aiohttp 15 s)
KEEP_ALIVE_S = 75


def run(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn, our JSON logging, no uvicorn access log)."""
    settings = settings.model_copy(
        update={"api_host": host or settings.api_host, "api_port": port or settings.api_port}
    )
    config = uvicorn.Config(
        build_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        server_header=False,
        # X-Forwarded-For is read by the app's own middleware, from TRUSTED_PROXIES only
        proxy_headers=False,
        lifespan="on",
        # an idle keep-alive connection is closed by the client or the load balancer first:
        # when the server closes it (uvicorn's default: after 5 s, httpx's own expiry) just
        # as a request is sent on it, the client gets "server disconnected" and a load
        # balancer a 502
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    uvicorn.Server(config).run()
