"""Moving-window rate limits (the ``limits`` library): per client IP and per admin account for
every request, and failed logins per username and per IP.

A moving window counts the requests of the last N seconds at every moment, so a budget of 600 a
minute never lets 1,200 through across a minute boundary (a fixed window does). The counters live
in memory, or in Redis (``async+redis://``, shared by every API process) when ``REDIS_URL`` is
set. If Redis fails a request is allowed: rate limiting must not take the API down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from tronrent.kit.logging import get_logger

WINDOW_SECONDS: Final = 60
KEY_PREFIX: Final = "tronrent:ratelimit"
_log = get_logger("tronrent.api")


def storage_url(redis_url: str | None) -> str:
    """``limits`` storage URI: ``async+redis://...`` for a Redis URL, else in-process memory."""
    if not redis_url:
        return "async+memory://"
    scheme, rest = redis_url.split("://", 1)
    if scheme == "unix":
        return f"async+redis+unix://{rest}"
    return f"async+{scheme}://{rest}"


def _retry_after(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))


class Limits:
    """One moving-window limiter over one storage, shared by the request and login limits."""

    def __init__(self, redis_url: str | None = None) -> None:
        url = storage_url(redis_url)
        options: dict[str, str | float | bool] = {}
        if redis_url:
            options = {"implementation": "redispy", "key_prefix": KEY_PREFIX}
        self.redis = bool(redis_url)
        self.limiter = MovingWindowRateLimiter(storage_from_string(url, **options))

    async def aclose(self) -> None:
        """Close the Redis connections of the storage (memory storage: nothing to do)."""
        bridge = getattr(self.limiter.storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception as exc:
                _log.warning("ratelimit.close_failed", error=type(exc).__name__)

    async def hit(self, item: RateLimitItem, *identity: str) -> int:
        """Count one event; seconds to wait when over the limit (the event is then not
        counted), 0 when allowed."""
        return await self._wait(self.limiter.hit, item, identity)

    async def blocked(self, item: RateLimitItem, *identity: str) -> int:
        """Seconds to wait when the budget is used up (nothing counted), else 0."""
        return await self._wait(self.limiter.test, item, identity)

    async def _wait(
        self,
        allowed: Callable[..., Awaitable[bool]],
        item: RateLimitItem,
        identity: tuple[str, ...],
    ) -> int:
        try:
            if await allowed(item, *identity):
                return 0
            stats = await self.limiter.get_window_stats(item, *identity)
        except Exception as exc:  # fail open
            _log.warning("ratelimit.storage_failed", error=type(exc).__name__)
            return 0
        return _retry_after(stats.reset_time)

    async def clear(self, item: RateLimitItem, *identity: str) -> None:
        try:
            await self.limiter.clear(item, *identity)
        except Exception as exc:
            _log.warning("ratelimit.storage_failed", error=type(exc).__name__)


class RateLimiter:
    """Requests per minute per client IP and per admin account (0 = that limit is off)."""

    def __init__(
        self, limits: Limits, *, per_ip_per_minute: int, per_account_per_minute: int = 0
    ) -> None:
        self.limits = limits
        self.per_ip = per_ip_per_minute
        self.per_account = per_account_per_minute
        self._ip_item = RateLimitItemPerMinute(max(1, per_ip_per_minute), namespace="ip")
        self._account_item = RateLimitItemPerMinute(
            max(1, per_account_per_minute), namespace="account"
        )

    @property
    def enabled(self) -> bool:
        return self.per_ip > 0 or self.per_account > 0

    async def hit_ip(self, ip: str) -> int:
        return await self.limits.hit(self._ip_item, ip) if self.per_ip > 0 else 0

    async def hit_account(self, account: str) -> int:
        return await self.limits.hit(self._account_item, account) if self.per_account > 0 else 0


@dataclass(frozen=True, slots=True)
class LoginRefused:
    retry_after: int
    reason: str


class LoginThrottle:
    """Failed logins in a moving window, per username and per client IP.

    Once either budget is used up every attempt is refused (even with the right password) until
    old failures leave the window. A success clears the username's failures, never the IP's.
    """

    def __init__(
        self, limits: Limits, *, per_username: int, per_ip: int, window_seconds: int
    ) -> None:
        self.limits = limits
        self._user = RateLimitItemPerSecond(per_username, window_seconds, namespace="login-user")
        self._ip = RateLimitItemPerSecond(per_ip, window_seconds, namespace="login-ip")

    @staticmethod
    def _username_key(username: str) -> str:
        return username.strip().lower()

    async def check(self, *, username: str, ip: str) -> LoginRefused | None:
        wait = await self.limits.blocked(self._user, self._username_key(username))
        if wait:
            return LoginRefused(wait, "too many failed logins for this username")
        wait = await self.limits.blocked(self._ip, ip)
        if wait:
            return LoginRefused(wait, "too many failed logins from this address")
        return None

    async def failed(self, *, username: str, ip: str) -> None:
        await self.limits.hit(self._user, self._username_key(username))
        await self.limits.hit(self._ip, ip)

    async def succeeded(self, *, username: str) -> None:
        await self.limits.clear(self._user, self._username_key(username))
