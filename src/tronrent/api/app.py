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
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tronrent.api import health as health_routes
from tronrent.api import metrics as metrics_routes
from tronrent.api.exception_handlers import install_exception_handlers
from tronrent.api.health import HealthCheck, HealthRegistry
from tronrent.api.middleware import RateLimitMiddleware, RequestContextMiddleware
from tronrent.api.ratelimit import RateLimiter
from tronrent.api.state import AppState
from tronrent.auth import endpoints as auth_routes
from tronrent.auth.tokens import TokenIssuer
from tronrent.config import Settings, ensure_local_secrets, get_settings
from tronrent.kit.crypto import Secret, SecretBox
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.kit.logging import get_logger
from tronrent.kit.metrics import DB_POOL
from tronrent.storage.migrations import ensure_migrated

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: Entered after the core state exists, exited in reverse order on shutdown.
LifespanHook = Callable[[AppState], AbstractAsyncContextManager[None]]

#: Routers every app serves; domain issues append theirs here or pass ``routers=``.
CORE_ROUTERS: tuple[APIRouter, ...] = (
    health_routes.router,
    metrics_routes.router,
    auth_routes.router,
)

_log = get_logger("tronrent.api")


def build_secret_box(settings: Settings) -> SecretBox:
    return SecretBox(Secret(k.get_secret_value()) for k in settings.secret_keys)


def build_token_issuer(settings: Settings) -> TokenIssuer:
    if settings.jwt_secret is None:
        raise ValueError("JWT_SECRET is not set")
    return TokenIssuer(Secret(settings.jwt_secret.get_secret_value()), settings.jwt_ttl_seconds)


def _database_check(engine: AsyncEngine) -> HealthCheck:
    async def check() -> dict[str, str]:
        async with engine.connect() as conn:
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
    lifespan_hooks: Sequence[LifespanHook] = (),
    health_checks: Mapping[str, HealthCheck] | None = None,
) -> FastAPI:
    """Build the API app.

    ``engine``/``redis`` may be passed in (tests, shared clients); otherwise they are created
    from ``settings`` in the lifespan and closed on shutdown. ``health_checks`` are registered
    up front; lifespan hooks can add more through ``state.health.register``.
    """
    settings = ensure_local_secrets(settings or get_settings())
    registry = HealthRegistry()
    for name, check in (health_checks or {}).items():
        registry.register(name, check)
    limiter = RateLimiter(settings.rate_limit_per_minute)

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
                tokens=build_token_issuer(settings),
                health=registry,
                redis=client,
            )
            registry.register("database", _database_check(db))
            if client is not None:
                registry.register("redis", _redis_check(client))
                limiter.redis = client
            DB_POOL.track("main", db)
            stack.callback(DB_POOL.untrack, "main")
            app.state.tronrent = state
            stack.callback(setattr, app.state, "tronrent", None)
            for hook in lifespan_hooks:
                await stack.enter_async_context(hook(state))
            _log.info(
                "api.started",
                database=db.dialect.name,
                redis=client is not None,
                hooks=len(lifespan_hooks),
            )
            yield
            limiter.redis = None
        _log.info("api.stopped")

    app = FastAPI(
        title="tronrent",
        summary="TRON energy rental platform API",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
    )
    app.state.health = registry
    app.state.tronrent = None
    install_exception_handlers(app)
    for router in (*CORE_ROUTERS, *routers):
        app.include_router(router)
    # added last = outermost: the request context wraps rate limiting and everything else
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    app.add_middleware(RequestContextMiddleware)
    return app
