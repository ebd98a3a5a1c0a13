"""The FastAPI app factory.

``create_app(settings)`` builds the app; its lifespan creates the engine, session maker and (when
``REDIS_URL`` is set) the Redis client, refuses to start on an unmigrated database, registers the
health checks and then enters the ``lifespan_hooks`` - the extension point through which
``tronrent.entrypoints`` starts the devnet, chain gateway, workers and scanner - in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tronrent.agent import endpoints as agent_routes
from tronrent.api import health as health_routes
from tronrent.api import metrics as metrics_routes
from tronrent.api.exception_handlers import install_exception_handlers
from tronrent.api.health import HealthCheck, HealthRegistry
from tronrent.api.middleware import (
    RateLimitMiddleware,
    RequestContextMiddleware,
    RequestGuardMiddleware,
)
from tronrent.api.ratelimit import Limits, LoginThrottle, RateLimiter
from tronrent.api.state import AppState
from tronrent.auth import endpoints as auth_routes
from tronrent.auth.tokens import TokenIssuer
from tronrent.bot import admin_endpoints as bot_admin_routes
from tronrent.config import Settings, ensure_local_secrets, get_settings, unused_settings
from tronrent.kit.crypto import Secret, SecretBox
from tronrent.kit.db import READ_ONLY, create_engine, create_session_maker
from tronrent.kit.logging import get_logger
from tronrent.kit.metrics import DB_POOL
from tronrent.pricing import admin_endpoints as catalog_admin_routes
from tronrent.pricing import endpoints as catalog_routes
from tronrent.storage.migrations import ensure_migrated
from tronrent.sysconfig import endpoints as sysconfig_routes
from tronrent.user import admin_endpoints as user_admin_routes

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: Entered after the core state exists, exited in reverse order on shutdown.
LifespanHook = Callable[[AppState], AbstractAsyncContextManager[None]]

#: Routers every app serves; domain issues append theirs here or pass ``routers=``.
CORE_ROUTERS: tuple[APIRouter, ...] = (
    health_routes.router,
    metrics_routes.router,
    auth_routes.router,
    user_admin_routes.router,
    agent_routes.router,
    bot_admin_routes.router,
    sysconfig_routes.admin_router,
    sysconfig_routes.public_router,
    catalog_routes.router,
    *catalog_admin_routes.ROUTERS,
)

#: Routers of a process that serves no API (``serve --role engine`` / ``bots``): its probes.
PROBE_ROUTERS: tuple[APIRouter, ...] = (health_routes.router, metrics_routes.router)

_log = get_logger("tronrent.api")


def build_secret_box(settings: Settings) -> SecretBox:
    return SecretBox(Secret(k.get_secret_value()) for k in settings.secret_keys)


def build_token_issuer(settings: Settings) -> TokenIssuer:
    if settings.jwt_secret is None:
        raise ValueError("JWT_SECRET is not set")
    return TokenIssuer(Secret(settings.jwt_secret.get_secret_value()), settings.jwt_ttl_seconds)


def _database_check(engine: AsyncEngine) -> HealthCheck:
    async def check() -> dict[str, str]:
        # read-only: on SQLite it takes no write lock, so a busy writer (the engine's jobs)
        # does not make the database look down
        async with engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY: True})
            await conn.execute(text("SELECT 1"))
        return {"dialect": engine.dialect.name}

    return check


def _redis_check(client: Redis) -> HealthCheck:
    async def check() -> None:
        await client.ping()

    return check


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    redis: Redis | None = None,
    routers: Sequence[APIRouter] = (),
    core_routers: Sequence[APIRouter] = CORE_ROUTERS,
    lifespan_hooks: Sequence[LifespanHook] = (),
    health_checks: Mapping[str, HealthCheck] | None = None,
) -> FastAPI:
    """Build the API app.

    ``engine``/``redis`` may be passed in (tests, shared clients); otherwise they are created
    from ``settings`` in the lifespan and closed on shutdown. ``core_routers``: the routers
    served before ``routers`` (``PROBE_ROUTERS`` for a process that serves no API).
    ``health_checks`` are registered up front; lifespan hooks can add more through
    ``state.health.register``.
    """
    settings = ensure_local_secrets(settings or get_settings())
    registry = HealthRegistry()
    for name, check in (health_checks or {}).items():
        registry.register(name, check)
    limits = Limits(settings.redis_url)
    limiter = RateLimiter(
        limits,
        per_ip_per_minute=settings.rate_limit_per_minute,
        per_account_per_minute=settings.rate_limit_per_account_per_minute,
    )
    login_throttle = LoginThrottle(
        limits,
        per_username=settings.login_failures_per_username,
        per_ip=settings.login_failures_per_ip,
        window_seconds=settings.login_failure_window_seconds,
    )
    tokens = build_token_issuer(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            db = engine
            if db is None:
                db = create_engine(
                    settings.database_url,
                    pool_size=settings.db_pool_size,
                    max_overflow=settings.db_max_overflow,
                )
                stack.push_async_callback(db.dispose)
            await ensure_migrated(db)
            stack.push_async_callback(limits.aclose)
            client = redis
            if client is None and settings.redis_url:
                from redis.asyncio import Redis as RedisClient

                client = RedisClient.from_url(settings.redis_url)
                stack.push_async_callback(client.aclose)
            state = AppState(
                settings=settings,
                engine=db,
                session_maker=create_session_maker(db),
                secret_box=build_secret_box(settings),
                tokens=tokens,
                health=registry,
                redis=client,
                login_throttle=login_throttle,
            )
            registry.register("database", _database_check(db))
            if client is not None:
                registry.register("redis", _redis_check(client))
            DB_POOL.track("main", db)
            stack.callback(DB_POOL.untrack, "main")
            app.state.tronrent = state
            stack.callback(setattr, app.state, "tronrent", None)
            for hook in lifespan_hooks:
                await stack.enter_async_context(hook(state))
            for name, why in unused_settings().items():
                _log.warning("config.unused_setting", variable=name, reason=why)
            _log.info(
                "api.started",
                network=settings.tron_network,
                database=db.dialect.name,
                redis=client is not None,
                hooks=len(lifespan_hooks),
            )
            yield
        _log.info("api.stopped")

    # FastAPIOffline: the Swagger UI and ReDoc pages load their JavaScript and CSS from the
    # installed package (/api/static-offline-docs), never from a CDN
    app = FastAPIOffline(
        title="tronrent",
        summary="TRON energy rental platform API",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
        static_url="/api/static-offline-docs",
    )
    app.state.health = registry
    app.state.tronrent = None
    install_exception_handlers(app)
    # a request is matched against the routes in order (a few microseconds each, ~120
    # routes): the callers' routers first - the order routes customers, merchants and the
    # engine's API users hit at hundreds per second come first in FLASH_ROUTERS. No path of
    # one router matches a route of another (tests/api/test_app.py), so the order decides
    # nothing else.
    for router in (*routers, *core_routers):
        app.include_router(router)
    # added last = outermost: the request context wraps everything; the client address is
    # taken from X-Forwarded-For only when the peer is a TRUSTED_PROXIES entry, before rate
    # limiting; oversized bodies and NUL characters are refused after it
    app.add_middleware(RequestGuardMiddleware, max_body_bytes=settings.max_request_body_bytes)
    app.add_middleware(RateLimitMiddleware, limiter=limiter, tokens=tokens)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.add_middleware(RequestContextMiddleware)
    return app
