"""``/api/health``: database, Redis when configured, and checks that later code registers
(the chain gateway registers ``chain``). 200 when every critical check passes, else 503."""

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


class HealthRegistry:
    """Named async checks. A check passes when it returns (its value, if a dict, is reported)
    and fails when it raises or exceeds the timeout. Non-critical failures report ``degraded``."""

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
            result = {"status": "ok"}
            if isinstance(value, dict):
                result.update(value)
        result["latencyMs"] = round((time.perf_counter() - started) * 1000, 2)
        result["critical"] = entry.critical
        return result

    async def run(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, report). Checks run concurrently."""
        items = list(self._checks.items())
        results = await asyncio.gather(*(self._run_one(n, e) for n, e in items))
        checks = dict(zip((n for n, _ in items), results, strict=True))
        healthy = all(r["status"] == "ok" for r in results if r["critical"])
        degraded = any(r["status"] != "ok" for r in results)
        status = "ok" if not degraded else ("degraded" if healthy else "down")
        return healthy, {"status": status, "checks": checks}


router = APIRouter(tags=["system"])


@router.get(
    "/api/health",
    summary="Service health",
    responses={503: {"description": "A critical dependency is down"}},
)
async def health(request: Request) -> JSONResponse:
    registry: HealthRegistry = request.app.state.health
    healthy, report = await registry.run()
    report["version"] = __version__
    report["uptimeSeconds"] = round(time.monotonic() - registry.started, 1)
    if healthy:
        return JSONResponse({"success": True, "data": report})
    down = ", ".join(
        n for n, r in report["checks"].items() if r["status"] != "ok" and r["critical"]
    )
    return error_response(503, "SERVICE_UNAVAILABLE", f"unhealthy: {down}", details=report)
