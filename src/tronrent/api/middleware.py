"""Pure ASGI middleware: request ids, access logs, HTTP metrics, rate limits, the body limit and
NUL guard, 500 fallback."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Final

import orjson
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tronrent.api.envelope import error_response
from tronrent.api.exception_handlers import (
    INTERNAL_ERROR_MESSAGE,
    database_busy_response,
    is_database_busy,
)
from tronrent.api.ratelimit import RateLimiter
from tronrent.auth.tokens import TokenIssuer
from tronrent.kit.errors import AppError
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


def client_ip(scope: Scope) -> str:
    """The client address as the proxy-header middleware left it (peer address unless a
    trusted proxy forwarded the request)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _bearer_subject(scope: Scope, tokens: TokenIssuer | None) -> str | None:
    """The admin id of a valid access token, else ``None`` (invalid tokens are the route's
    business: they are limited per IP only)."""
    if tokens is None:
        return None
    value = _header(scope, b"authorization")
    if not value or value[:7].lower() != "bearer ":
        return None
    try:
        return str(tokens.verify(value[7:].strip()).admin_id)
    except AppError:
        return None


def _too_many(retry_after: int, message: str) -> JSONResponse:
    return error_response(429, "RATE_LIMITED", message, headers={"Retry-After": str(retry_after)})


class RateLimitMiddleware:
    """429 envelope with ``Retry-After`` once a client IP, or an admin account (the subject of
    a valid access token), exceeds its budget of requests in any 60 s (moving window)."""

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, tokens: TokenIssuer | None = None
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limiter.enabled or scope.get("path") in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        retry_after = await self.limiter.hit_ip(client_ip(scope))
        if retry_after:
            message = f"too many requests: limit is {self.limiter.per_ip} per minute per client"
            await _too_many(retry_after, message)(scope, receive, send)
            return
        if self.limiter.per_account > 0:
            subject = _bearer_subject(scope, self.tokens)
            if subject is not None:
                retry_after = await self.limiter.hit_account(subject)
                if retry_after:
                    message = (
                        f"too many requests: limit is {self.limiter.per_account} per minute "
                        "per account"
                    )
                    await _too_many(retry_after, message)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


#: Telegram's webhook deliveries: a refused update would be retried by Telegram and hold up
#: the bot's later updates; their text is the bot's business (the body limit still applies)
NUL_EXEMPT_PREFIX: Final = "/webhook/"


class _BodyTooLarge(Exception):
    pass


def _has_nul(value: Any) -> bool:
    """Any string or key holding a NUL, walked without recursion (JSON may nest 1,000 deep)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def body_has_nul(body: bytes) -> bool:
    """True when a JSON body holds a NUL character in any string or key (``\\u0000``).

    A NUL byte itself is not valid JSON (the route answers 422 for that); this finds the
    escaped form, which parses into a string PostgreSQL cannot store."""
    if b"\\u0000" not in body:
        return False
    try:
        return _has_nul(orjson.loads(body))
    except orjson.JSONDecodeError:
        return False


class RequestGuardMiddleware:
    """Hostile input stopped before any route sees it: a body larger than
    ``MAX_REQUEST_BODY_BYTES`` is 413 (by ``Content-Length`` at once, or while a chunked body
    streams in), and a NUL character in the path, the query string or any JSON string is 422.

    The body (at most the limit) is read here and replayed to the app unchanged."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in str(scope.get("path", "")) or b"%00" in bytes(scope.get("query_string", b"")):
            await _nul_response()(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0:
                await error_response(400, "BAD_REQUEST", "invalid Content-Length header")(
                    scope, receive, send
                )
                return
            if declared > self.max_body_bytes:
                await self._too_large()(scope, receive, send)
                return
        try:
            body, tail = await self._read_body(receive)
        except _BodyTooLarge:
            await self._too_large()(scope, receive, send)
            return
        if body_has_nul(body) and not str(scope.get("path", "")).startswith(NUL_EXEMPT_PREFIX):
            await _nul_response()(scope, receive, send)
            return
        await self.app(scope, _replay(body, tail, receive), send)

    async def _read_body(self, receive: Receive) -> tuple[bytes, Message | None]:
        """The whole body; ``tail`` is a disconnect received instead of more body."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def _too_large(self) -> JSONResponse:
        return error_response(
            413,
            "PAYLOAD_TOO_LARGE",
            f"request body too large: at most {self.max_body_bytes} bytes",
            headers={"Connection": "close"},
        )


def _nul_response() -> JSONResponse:
    return error_response(
        422, "VALIDATION_ERROR", "NUL characters (\\u0000) are not allowed in the request"
    )


def _replay(body: bytes, tail: Message | None, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if tail is not None:
            return tail
        return await receive()

    return replay
