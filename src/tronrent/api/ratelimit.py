"""Per-client-IP fixed-window rate limiting: in memory, or shared through Redis when configured."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from tronrent.kit.logging import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

WINDOW_SECONDS: Final = 60
_log = get_logger("tronrent.api")


class RateLimiter:
    """``hit(client)`` counts a request and returns seconds to wait (0 = allowed).

    Redis mode uses one INCR+EXPIRE per request so several API processes share the budget; if
    Redis fails the request is allowed (rate limiting must not take the API down).
    """

    def __init__(self, limit_per_minute: int, *, key_prefix: str = "tronrent:ratelimit:") -> None:
        self.limit = limit_per_minute
        self.key_prefix = key_prefix
        self.redis: Redis | None = None
        self._window = 0
        self._counts: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    async def hit(self, client: str, *, now: float | None = None) -> int:
        if not self.enabled:
            return 0
        moment = time.time() if now is None else now
        window = int(moment // WINDOW_SECONDS)
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - moment))
        count = await self._count(client, window)
        return retry_after if count > self.limit else 0

    async def _count(self, client: str, window: int) -> int:
        if self.redis is not None:
            key = f"{self.key_prefix}{window}:{client}"
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, WINDOW_SECONDS + 1)
                    count, _ = await pipe.execute()
                return int(count)
            except Exception as exc:  # fail open
                _log.warning("ratelimit.redis_failed", error=type(exc).__name__)
                return 0
        if window != self._window:
            self._window = window
            self._counts = {}
        count = self._counts.get(client, 0) + 1
        self._counts[client] = count
        return count
