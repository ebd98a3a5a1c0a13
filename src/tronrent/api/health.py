"""``/api/health``: database, Redis when configured, and checks that later code registers
(the chain gateway registers ``chain``; ``entrypoints.health`` the scanner, pools, job queue and
bots). Each component reports ``ok``, ``degraded`` (working, but an operator should look) or
``down``; the overall status is the worst, and the answer is 200 unless a critical component is
down (503, for load balancers and the Docker HEALTHCHECK). Never a 500."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tronrent.api.envelope import error_response
from tronrent.kit.logging import get_logger

HealthCheck = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_SECONDS: Final = 3.0
_log = get_logger("tronrent.api")

try:
    __version__ = version("tronrent")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0"


@dataclass(frozen=True, slots=True)
class _Registered:
    check: HealthCheck
    critical: bool


#: statuses of a component, best first
OK, DEGRADED, DOWN = "ok", "degraded", "down"
_RANK: Final = {OK: 0, DEGRADED: 1, DOWN: 2}


class HealthRegistry:
    """Named async checks. A check passes when it returns (its value, if a dict, is reported;
    a ``status`` of ``degraded`` in it says the component works but needs a look) and is
    ``down`` when it raises or exceeds the timeout. The overall status is ``down`` when a
    critical check is down, else the worst status of any check."""

    def __init__(self, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self.started = time.monotonic()
        self._checks: dict[str, _Registered] = {}

    def register(self, name: str, check: HealthCheck, *, critical: bool = True) -> None:
        self._checks[name] = _Registered(check, critical)

    def unregister(self, name: str) -> None:
        self._checks.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def _run_one(self, name: str, entry: _Registered) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            value = await asyncio.wait_for(entry.check(), self.timeout)
        except TimeoutError:
            result: dict[str, Any] = {"status": "down", "error": "timeout"}
        except Exception as exc:
            # the class name only: driver messages may carry hosts or user names
            _log.warning("health.check_failed", check=name, error=f"{type(exc).__name__}: {exc}")
            result = {"status": "down", "error": type(exc).__name__}
        else:
            result = {"status": OK}
            if isinstance(value, dict):
                result.update(value)
            if result["status"] not in _RANK:
                result["status"] = DEGRADED
        result["latencyMs"] = round((time.perf_counter() - started) * 1000, 2)
        result["critical"] = entry.critical
        return result

    async def run(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, report). Checks run concurrently."""
        items = list(self._checks.items())
        results = await asyncio.gather(*(self._run_one(n, e) for n, e in items))
        checks = dict(zip((n for n, _ in items), results, strict=True))
        healthy = not any(r["status"] == DOWN for r in results if r["critical"])
        worst = max((_RANK[r["status"]] for r in results), default=0)
        status = DOWN if not healthy else (OK if worst == 0 else DEGRADED)
        return healthy, {"status": status, "checks": checks}


router = APIRouter(tags=["system"])


@router.get(
    "/api/health",
    summary="Service health",
    responses={503: {"description": "A critical dependency is down"}},
)
async def health(request: Request) -> JSONResponse:
    registry: HealthRegistry = request.app.state.health
    try:
        healthy, report = await registry.run()
    except Exception as exc:  # a bug in the registry itself: still an answer, never a 500
        _log.exception("health.failed")
        return error_response(
            503,
            "SERVICE_UNAVAILABLE",
            "health checks failed",
            details={"error": type(exc).__name__},
        )
    report["version"] = __version__
    report["uptimeSeconds"] = round(time.monotonic() - registry.started, 1)
    if healthy:
        return JSONResponse({"success": True, "data": report})
    down = ", ".join(
        n for n, r in report["checks"].items() if r["status"] == DOWN and r["critical"]
    )
    return error_response(503, "SERVICE_UNAVAILABLE", f"unhealthy: {down}", details=report)
