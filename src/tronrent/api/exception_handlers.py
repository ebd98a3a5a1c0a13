"""The one place that maps errors to HTTP answers (always the error envelope).

``AppError`` subclasses map by class hierarchy (a domain's ``OrderNotPending(Conflict)`` is a
409); routing errors (unknown route, wrong method) and request validation get clear messages;
anything unexpected becomes a generic 500 with the stack trace only in the logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from tronrent.api.envelope import error_response
from tronrent.kit import errors
from tronrent.kit.logging import get_logger
from tronrent.kit.metrics import ERRORS

_log = get_logger("tronrent.api")

STATUS_BY_ERROR: Final[dict[type[errors.AppError], int]] = {
    errors.ValidationFailed: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.RateLimited: 429,
    errors.ServiceUnavailable: 503,
    errors.SecretDecryptionError: 500,
}
INTERNAL_ERROR_MESSAGE: Final = "internal error; the incident was logged"
DATABASE_BUSY_MESSAGE: Final = "the service is busy (no database connection free); retry shortly"
DATABASE_BUSY_RETRY_AFTER_S: Final = 2


def status_for(error: errors.AppError) -> int:
    """HTTP status of an application error: nearest mapped ancestor class, else 400."""
    for cls in type(error).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 400


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, rest = parts[0], parts[1:]
        name = ".".join(rest)
        if where == "body":
            return name or "request body"
        return f"{name} ({where})" if name else where
    return ".".join(parts)


def validation_message(exc: RequestValidationError) -> str:
    """Human message naming each bad field, e.g. ``username: field required``."""
    messages: list[str] = []
    for item in exc.errors():
        kind = str(item.get("type", ""))
        if kind == "json_invalid":
            messages.append("request body is not valid JSON")
            continue
        where = _location(item.get("loc", ()))
        msg = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        if kind == "missing":
            msg = "field required" if where != "request body" else "is required"
        messages.append(f"{where}: {msg[:1].lower()}{msg[1:]}")
    return "; ".join(dict.fromkeys(messages)) or "invalid request"


async def app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.AppError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if status >= 500:
        ERRORS.labels(component="api").inc()
        _log.error("http.app_error", code=exc.code, error=exc.message, path=request.url.path)
        message = exc.message if status == 503 else INTERNAL_ERROR_MESSAGE
    else:
        message = exc.message
    return error_response(status, exc.code, message, details=exc.details, headers=headers or None)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "VALIDATION_ERROR", validation_message(exc))


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path[:200]
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 404 and exc.detail == "Not Found":
        return error_response(
            404, "NOT_FOUND", f"no route {request.method} {path}", headers=headers
        )
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
        suffix = f" (allowed: {allowed})" if allowed else ""
        message = f"method {request.method} not allowed on {path}{suffix}"
        return error_response(405, "METHOD_NOT_ALLOWED", message, headers=headers)
    code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "RATE_LIMITED"}.get(
        exc.status_code, f"HTTP_{exc.status_code}"
    )
    message = str(exc.detail) if exc.status_code < 500 else INTERNAL_ERROR_MESSAGE
    return error_response(exc.status_code, code, message, headers=headers)


def is_database_busy(exc: BaseException) -> bool:
    """Overload, not a bug: no pool connection free in time (``QueuePool limit ...``), or
    SQLite's write lock not obtained within its busy timeout (``database is locked``)."""
    if isinstance(exc, PoolTimeout):
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def database_busy_response() -> JSONResponse:
    """503 + Retry-After for a busy database (see ``is_database_busy``): never a 500."""
    return error_response(
        503,
        "DATABASE_BUSY",
        DATABASE_BUSY_MESSAGE,
        headers={"Retry-After": str(DATABASE_BUSY_RETRY_AFTER_S)},
    )


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_busy(exc):
        return await unexpected_error_handler(request, exc)
    ERRORS.labels(component="api").inc()
    _log.warning("http.database_busy", path=request.url.path[:200], error=str(exc)[:200])
    return database_busy_response()


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Last resort (the request middleware normally catches these first)."""
    ERRORS.labels(component="api").inc()
    _log.error("http.unhandled_exception", path=request.url.path, exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", INTERNAL_ERROR_MESSAGE)


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.AppError, app_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(PoolTimeout, database_error_handler)
    app.add_exception_handler(OperationalError, database_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
