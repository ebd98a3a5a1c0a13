"""Short-lived HS256 JWT access tokens for admin accounts (claims: sub, role, iat, exp)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt

from tronrent.kit.crypto import Secret
from tronrent.kit.errors import Unauthorized
from tronrent.kit.time import utcnow

ALGORITHM: Final = "HS256"
ISSUER: Final = "tronrent"
TOKEN_TYPE: Final = "Bearer"  # noqa: S105


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int
    role: str


@dataclass(frozen=True, slots=True)
class TokenClaims:
    admin_id: uuid.UUID
    role: str
    issued_at: datetime
    expires_at: datetime


class TokenIssuer:
    """Issues and verifies admin access tokens with one secret."""

    def __init__(self, secret: Secret, ttl_seconds: int) -> None:
        if len(secret.reveal()) < 32:
            raise ValueError("JWT secret must be at least 32 characters")
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def issue(self, admin_id: uuid.UUID, role: str, *, now: datetime | None = None) -> AccessToken:
        issued = now or utcnow()
        claims: dict[str, Any] = {
            "sub": str(admin_id),
            "role": role,
            "iat": issued,
            "exp": issued + timedelta(seconds=self.ttl_seconds),
            "iss": ISSUER,
        }
        token = jwt.encode(claims, self._secret.reveal(), algorithm=ALGORITHM)
        return AccessToken(token=token, expires_in=self.ttl_seconds, role=role)

    def verify(self, token: str) -> TokenClaims:
        """Claims of a valid token; :class:`Unauthorized` if expired, forged or malformed."""
        try:
            claims = jwt.decode(
                token,
                self._secret.reveal(),
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["sub", "role", "iat", "exp", "iss"]},
            )
            admin_id = uuid.UUID(str(claims["sub"]))
        except jwt.ExpiredSignatureError:
            raise Unauthorized("access token expired", "TOKEN_EXPIRED") from None
        except (jwt.InvalidTokenError, ValueError):
            raise Unauthorized("invalid access token", "INVALID_TOKEN") from None
        return TokenClaims(
            admin_id=admin_id,
            role=str(claims["role"]),
            issued_at=datetime.fromtimestamp(int(claims["iat"]), tz=UTC),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
        )
