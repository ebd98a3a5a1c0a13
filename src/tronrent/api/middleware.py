"""Pure ASGI middleware: request ids, access logs, HTTP metrics, rate limits, 500 fallback."""

from __future__ import annotations

import re
import time
import uuid
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tronrent.api.envelope import error_response
from tronrent.api.exception_handlers import (
    INTERNAL_ERROR_MESSAGE,
    database_busy_response,
    is_database_busy,
)
from tronrent.api.ratelimit import RateLimiter
from tronrent.kit.logging import bind_context, get_logger, unbind_context
from tronrent.kit.metrics import ERRORS, HTTP_REQUEST_DURATION, HTTP_REQUESTS

REQUEST_ID_HEADER: Final = "X-Request-ID"
_VALID_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Probes and scrapes: logged at debug level and never rate limited.
QUIET_PATHS: Final = frozenset({"/api/health", "/api/metrics"})
_log = get_logger("tronrent.api")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Outermost middleware: one request id per request (``X-Request-ID`` in and out, bound into
    every log line), the access log, the HTTP metrics, and a generic 500 envelope for anything
    that escaped the exception handlers (stack trace only in the log)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        )
        scope.setdefault("state", {})["request_id"] = request_id
        bind_context(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            ERRORS.labels(component="api").inc()
            if is_database_busy(exc):
                # a busy database raised outside the handlers (a dependency's teardown, the
                # commit): overload, answered 503 + Retry-After like in the handlers, never 500
                _log.warning("http.database_busy", path=scope.get("path"), error=str(exc)[:200])
                if response_started:
                    raise
                status = 503
                await database_busy_response()(scope, receive, send_wrapper)
                return
            _log.error(
                "http.unhandled_exception",
                method=scope.get("method"),
                path=scope.get("path"),
                exc_info=exc,
            )
            if response_started:
                raise
            status = 500
            response = error_response(500, "INTERNAL_ERROR", INTERNAL_ERROR_MESSAGE)
            await response(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            method = str(scope.get("method", ""))
            route = _route_label(scope)
            HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            HTTP_REQUEST_DURATION.labels(method=method, route=route).observe(elapsed)
            path = str(scope.get("path", ""))
            log = _log.debug if path in QUIET_PATHS and status < 500 else _log.info
            log(
                "http.request",
                method=method,
                path=path[:200],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            unbind_context("request_id")


class RateLimitMiddleware:
    """429 envelope with ``Retry-After`` once a client IP exceeds its per-minute budget."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limiter.enabled or scope.get("path") in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = str(client[0]) if client else "unknown"
        retry_after = await self.limiter.hit(ip)
        if retry_after:
            response = error_response(
                429,
                "RATE_LIMITED",
                f"too many requests: limit is {self.limiter.limit} per minute",
                headers={"Retry-After": str(retry_after)},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
