"""Checking a signed merchant request (no web framework here: the route's dependency passes
the headers, the raw body and the client address).

Order of the checks, each a 401 with its own code: the four headers (``SIGNATURE_HEADERS_
MISSING``), the key (``API_KEY_UNKNOWN``, ``API_KEY_REVOKED``), the client address against the
key's allowlist (``IP_NOT_ALLOWED``), the timestamp within the window (``REQUEST_STALE``), the
signature (``SIGNATURE_INVALID``), then the nonce, recorded only for a correctly signed request
so nobody can burn another's nonces (``REQUEST_REPLAYED``). Nonces are kept for twice the
window: in Redis (``SET NX EX``) when configured, else in ``merchant_nonces`` inside the
request's transaction (a request that fails and rolls back before any node wait leaves no nonce;
on SQLite a route that waits on the node - a quote, an order's recipient check, the estimate -
commits it at that wait with the key's last use, as Redis keeps it at once: repeat a refused
request with a fresh nonce).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.crypto import SecretBox
from tronrent.kit.db import insert_new_rows
from tronrent.kit.time import utcnow
from tronrent.merchant import signing
from tronrent.merchant.errors import (
    ApiKeyRevoked,
    ApiKeyUnknown,
    IpNotAllowed,
    RequestReplayed,
    RequestStale,
    SignatureInvalid,
    SignatureMissing,
)
from tronrent.merchant.keys import merchant_keys
from tronrent.models.merchant import ApiKeyStatus, MerchantApiKey, MerchantNonce

if TYPE_CHECKING:
    from redis.asyncio import Redis

REDIS_PREFIX = "tronrent:merchant:nonce:"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the signature covers, as received."""

    key_id: str | None
    timestamp: str | None
    nonce: str | None
    signature: str | None
    method: str
    path: str  # with the query string, as sent
    body: bytes
    client_ip: str


class NonceStore(Protocol):
    async def first_use(self, session: AsyncSession, key_id: str, nonce: str) -> bool:
        """Record the nonce; False if it was recorded before (within the TTL)."""
        ...


class RedisNonceStore:
    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    async def first_use(self, session: AsyncSession, key_id: str, nonce: str) -> bool:
        return bool(
            await self.redis.set(f"{REDIS_PREFIX}{key_id}:{nonce}", 1, nx=True, ex=self.ttl_s)
        )


class DbNonceStore:
    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s

    async def first_use(self, session: AsyncSession, key_id: str, nonce: str) -> bool:
        rows = await insert_new_rows(
            session,
            MerchantNonce,
            [{"key_id": key_id, "nonce": nonce, "seen_at": utcnow()}],
            conflict=["key_id", "nonce"],
            returning=["nonce"],
            standalone=True,  # a later node wait may commit it (SQLite: `release_write_lock`)
        )
        return bool(rows)


async def purge_nonces(session: AsyncSession, ttl_s: int) -> int:
    """Delete database nonces older than the TTL; how many."""
    result = await session.execute(
        delete(MerchantNonce).where(MerchantNonce.seen_at < utcnow() - timedelta(seconds=ttl_s))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def authenticate(
    session: AsyncSession,
    box: SecretBox,
    nonces: NonceStore,
    req: SignedRequest,
    *,
    window_s: int,
    now_s: float | None = None,
) -> MerchantApiKey:
    """The active key that signed ``req`` (see the module docstring for the 401s)."""
    if not (req.key_id and req.timestamp and req.nonce and req.signature):
        raise SignatureMissing(
            "signed request needs X-Api-Key, X-Timestamp, X-Nonce and X-Signature headers"
        )
    if not signing.NONCE_RE.match(req.nonce):
        raise SignatureMissing("X-Nonce must be 8-64 characters of A-Z a-z 0-9 _ -")
    if not signing.TIMESTAMP_RE.fullmatch(req.timestamp):
        raise SignatureMissing("X-Timestamp must be Unix time in seconds")
    key = await merchant_keys.get_by_key_id(session, req.key_id)
    if key is None:
        raise ApiKeyUnknown("unknown API key")
    if key.status is not ApiKeyStatus.ACTIVE:
        raise ApiKeyRevoked("this API key was revoked")
    if not signing.ip_allowed(req.client_ip, key.ip_allowlist or []):
        raise IpNotAllowed(f"requests from {req.client_ip} are not allowed for this key")
    now = time.time() if now_s is None else now_s
    if abs(now - int(req.timestamp)) > window_s:
        raise RequestStale(f"X-Timestamp is more than {window_s} s away from the server's clock")
    secret = box.decrypt(key.secret_encrypted).reveal()
    message = signing.request_message(req.timestamp, req.method, req.path, req.nonce, req.body)
    if not signing.verify(secret, message, req.signature):
        raise SignatureInvalid("signature does not match the request")
    if not await nonces.first_use(session, key.key_id, req.nonce):
        raise RequestReplayed("this X-Nonce was already used")
    await merchant_keys.touch(session, key)
    return key
