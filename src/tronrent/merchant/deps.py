"""FastAPI side of the merchant auth: the signed-request dependency and the per-key limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItemPerMinute
from starlette.types import Scope

from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.middleware import client_ip
from tronrent.api.ratelimit import Limits
from tronrent.api.state import AppState
from tronrent.kit.errors import RateLimited
from tronrent.merchant.auth import (
    DbNonceStore,
    NonceStore,
    RedisNonceStore,
    SignedRequest,
    authenticate,
)
from tronrent.models.merchant import MerchantApiKey

LIMITS_COMPONENT = "merchant_limits"
NONCES_COMPONENT = "merchant_nonces"


def _limits(state: AppState) -> Limits:
    limits: Limits | None = state.components.get(LIMITS_COMPONENT)
    if limits is None:
        limits = Limits(state.settings.redis_url)
        state.components[LIMITS_COMPONENT] = limits
    return limits


def _nonces(state: AppState) -> NonceStore:
    store: NonceStore | None = state.components.get(NONCES_COMPONENT)
    if store is None:
        ttl = 2 * state.settings.merchant_signature_window_seconds
        store = RedisNonceStore(state.redis, ttl) if state.redis is not None else DbNonceStore(ttl)
        state.components[NONCES_COMPONENT] = store
    return store


def signed_path(scope: Scope) -> str:
    """The path and query string the signature covers, exactly as sent: ``raw_path`` (not the
    percent-decoded ``path``: ``/api/v1/orders/50%25off`` is signed as that), then ``?`` and
    the raw query string when there is one. ``path`` only from a server that gives no
    ``raw_path`` (the ASGI spec makes it optional); a query string some servers leave in
    ``raw_path`` is cut there (``query_string`` carries it). The bytes are read as UTF-8, so
    the message (`signing.request_message` encodes it as UTF-8) holds the bytes that were
    sent; bytes that are not UTF-8 match no signature (a 401, not a decoding error)."""
    raw = scope.get("raw_path")
    if raw:
        path = bytes(raw).split(b"?", 1)[0].decode("utf-8", "replace")
    else:
        path = str(scope.get("root_path", "")) + str(scope["path"])
    query = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
    return f"{path}?{query}" if query else path


async def signed_key(request: Request, state: StateDep, session: SessionDep) -> MerchantApiKey:
    """The API key that signed this request (401 with the reason's code otherwise); 429 with
    Retry-After once the key's per-minute budget is used."""
    headers = request.headers
    path = signed_path(request.scope)
    key = await authenticate(
        session,
        state.secret_box,
        _nonces(state),
        SignedRequest(
            key_id=headers.get("x-api-key"),
            timestamp=headers.get("x-timestamp"),
            nonce=headers.get("x-nonce"),
            signature=headers.get("x-signature"),
            method=request.method,
            path=path,
            body=await request.body(),
            client_ip=client_ip(request.scope),
        ),
        window_s=state.settings.merchant_signature_window_seconds,
    )
    per_minute = state.settings.merchant_rate_limit_per_minute
    if per_minute > 0:
        item = RateLimitItemPerMinute(per_minute, namespace="merchant-key")
        wait = await _limits(state).hit(item, key.key_id)
        if wait:
            raise RateLimited(
                f"too many requests: limit is {per_minute} per minute per API key",
                retry_after=wait,
            )
    return key


MerchantKeyDep = Annotated[MerchantApiKey, Depends(signed_key)]
