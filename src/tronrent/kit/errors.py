"""Application errors: one base class with a machine-readable ``code``.

Domains subclass these with names that state a fact (``OrderNotPending(Conflict)``). Front ends map
them in exactly one place each: ``tronrent.api.exception_handlers`` turns the class hierarchy into
an HTTP status, the Telegram error router turns ``code`` into a locale key.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of every expected, user-explainable failure. ``message`` is safe to show to callers."""

    default_code: ClassVar[str] = "APP_ERROR"

    def __init__(
        self, message: str, code: str | None = None, *, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ValidationFailed(AppError):
    """The input is well-formed but not acceptable (HTTP 400/422)."""

    default_code = "VALIDATION_ERROR"


class NotFound(AppError):
    """The addressed object does not exist or is not visible to the caller (HTTP 404)."""

    default_code = "NOT_FOUND"


class Conflict(AppError):
    """The request conflicts with the current state, e.g. a duplicate (HTTP 409)."""

    default_code = "CONFLICT"


class Unauthorized(AppError):
    """Missing, invalid or expired credentials (HTTP 401)."""

    default_code = "UNAUTHORIZED"


class Forbidden(AppError):
    """Authenticated, but not allowed to do this (HTTP 403)."""

    default_code = "FORBIDDEN"


class RateLimited(AppError):
    """Too many requests; ``retry_after`` seconds until the next attempt may succeed (HTTP 429)."""

    default_code = "RATE_LIMITED"

    def __init__(self, message: str, code: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    """A dependency (database, Redis, chain) is down; retrying later may succeed (HTTP 503)."""

    default_code = "SERVICE_UNAVAILABLE"


class SecretDecryptionError(AppError):
    """A stored secret could not be decrypted: wrong key, or the ciphertext was tampered with."""

    default_code = "SECRET_DECRYPTION_FAILED"
