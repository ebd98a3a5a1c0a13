"""What the running API process holds: built in the lifespan, read by dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tronrent.api.health import HealthRegistry
from tronrent.auth.tokens import TokenIssuer
from tronrent.config import Settings
from tronrent.kit.crypto import SecretBox

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from tronrent.api.ratelimit import LoginThrottle


@dataclass
class AppState:
    """Stateful clients of one API process (``request.app.state.tronrent``)."""

    settings: Settings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    secret_box: SecretBox
    tokens: TokenIssuer
    health: HealthRegistry
    redis: Redis | None = None
    #: failed logins per username and per client IP (moving window)
    login_throttle: LoginThrottle | None = None
    #: components added by lifespan hooks (chain gateway, devnet, workers), by name
    components: dict[str, Any] = field(default_factory=dict)
