"""The `serve` lifespan hook: chain gateway + flash engine, registered on the app state.

`flash_lifespan(state)` uses `state.components["devnet_url"]` (set by the devnet hook when the
chain is embedded) or `TRON_NODE_URLS`; the flash address is `TRON_PAYMENT_ADDRESS` or the
first pool's address. The engine's jobs get their own connection pool (`DB_POOL_SIZE` +
`DB_MAX_OVERFLOW`, like the API's): a burst of jobs can never take the API's connections.
With ``engine=False`` (``serve`` without the engine role) no job runs here: the engine is
started without workers, scanner or periodic jobs, only to send jobs to the Redis queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from cashews import Cache, register_backend
from cashews.backends.redis import Redis as RedisCacheBackend
from cashews.picklers import PicklerType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.adapters.tron.gateway import TronGateway
from tronrent.api.state import AppState
from tronrent.flash.api_deps import (
    CHAIN_COMPONENT,
    ENGINE_COMPONENT,
    RECIPIENT_CHECK_COMPONENT,
    RUNTIME_COMPONENT,
)
from tronrent.flash.engine import FlashEngine
from tronrent.kit.db import create_engine, create_session_maker, read_only
from tronrent.kit.logging import get_logger
from tronrent.models.energy_pool import EnergyPool
from tronrent.order.recipient import RecipientCheck
from tronrent.order.runtime import FlashRuntime
from tronrent.retention.policy import RetentionPolicy
from tronrent.scanner.service import ScannerConfig
from tronrent.sysconfig.service import system_config

_log = get_logger("tronrent.flash")


async def _flash_address(state: AppState) -> str | None:
    if state.settings.tron_payment_address:
        return state.settings.tron_payment_address
    async with state.session_maker() as s:
        return (
            (
                await s.execute(
                    select(EnergyPool.tron_address)
                    .where(EnergyPool.removed_at.is_(None))
                    .order_by(EnergyPool.created_at)
                )
            )
            .scalars()
            .first()
        )


async def _engine_sessions(
    state: AppState, stack: AsyncExitStack
) -> async_sessionmaker[AsyncSession]:
    """Sessions on a pool of the engine's own (same database), unless the database is in
    memory (one connection shared by everything)."""
    url = state.engine.url
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or database.startswith("file::memory:")
    ):
        return state.session_maker
    engine = create_engine(
        url.render_as_string(hide_password=False),
        pool_size=state.settings.db_pool_size,
        max_overflow=state.settings.db_max_overflow,
    )
    stack.push_async_callback(engine.dispose)
    return create_session_maker(engine)


def address_cache(redis_url: str | None) -> Cache:
    """The address-check cache: Redis when ``REDIS_URL`` is set (``unix://`` sockets too, which
    cashews does not name by default), else in this process's memory."""
    if redis_url and redis_url.startswith("unix://"):
        register_backend("unix", RedisCacheBackend, pass_uri=True, pickler=PicklerType.DEFAULT)
    cache = Cache()
    cache.setup(redis_url or "mem://")
    return cache


async def _tron_api_key(state: AppState) -> str | None:
    """The ``tron.api_key`` system config when set, else ``TRON_API_KEY``."""
    async with state.session_maker() as session:
        await read_only(session)  # SQLite: no write lock for a read
        stored = await system_config.value(session, "tron.api_key", state.secret_box)
    if stored:
        return str(stored)
    key = state.settings.tron_api_key
    return key.get_secret_value() if key else None


@asynccontextmanager
async def flash_lifespan(state: AppState, *, engine: bool = True) -> AsyncIterator[None]:
    """``engine``: this process runs the engine (workers, scanner, sweeper, periodic jobs);
    False (``serve`` without the engine role): only the gateway, runtime, address check and
    the Redis job queue, so the jobs its requests enqueue reach the engine processes."""
    settings = state.settings
    urls = settings.node_urls or [str(state.components.get("devnet_url", ""))]
    if not urls[0]:
        _log.warning("flash.disabled", reason="no TRON node configured")
        yield
        return
    api_key = await _tron_api_key(state)
    async with AsyncExitStack() as stack:
        gateway = await stack.enter_async_context(TronGateway(urls, api_key=api_key))
        state.components[CHAIN_COMPONENT] = gateway
        address = await _flash_address(state)
        if address is None:
            _log.warning("flash.disabled", reason="no pool and no TRON_PAYMENT_ADDRESS")
            yield
            return
        rt = FlashRuntime.from_settings(settings, address)
        state.components[RUNTIME_COMPONENT] = rt
        # seed 000 section 8.1: the address-check cache, in Redis when configured
        cache = address_cache(settings.redis_url)
        stack.push_async_callback(cache.close)
        state.components[RECIPIENT_CHECK_COMPONENT] = RecipientCheck(
            gateway, cache, ttl_s=settings.address_check_cache_ttl
        )
        flash = FlashEngine(
            session_maker=(await _engine_sessions(state, stack) if engine else state.session_maker),
            chain=gateway,
            box=state.secret_box,
            rt=rt,
            redis_url=settings.redis_url,
            retention=RetentionPolicy.from_settings(settings),
            scanner_config=ScannerConfig(
                confirmations=settings.confirmations,
                block_interval_s=settings.block_interval_seconds,
                fixed_addresses=frozenset({address}),
                # USDT transfers to the payment address pay USDT orders and top-ups
                usdt_contract=settings.usdt_contract,
            ),
            run_scanner=engine,
            run_workers=engine,
            run_periodic_jobs=engine,
        )
        async with flash:
            state.components[ENGINE_COMPONENT] = flash
            _log.info("flash.started", payment_address=address, engine=engine)
            yield
