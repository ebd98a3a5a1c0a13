"""Who may act on an order: the customer credential of HTTP callers (pure, no I/O).

create-order returns an *order token* once: 32 random bytes, urlsafe base64 (43 characters).
Only its SHA-256 is stored (``orders.access_token_hash``): the token is a high-entropy random
secret, so a fast hash is enough (nothing to brute-force) and a database leak reveals no token.
Customer mutations (cancel, confirm) present it in the ``X-Order-Token`` header; an operator's
JWT may act on any order. Orders created in the Telegram bot (and walk-in payments) have no
token: the bot checks the chat instead, and over HTTP only an operator may act on them.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets

from tronrent.kit.errors import Forbidden, Unauthorized

#: bytes of randomness in an order token (256 bits)
TOKEN_BYTES = 32
#: longer header values are refused unhashed (a token is 43 characters)
MAX_TOKEN_LENGTH = 256
#: the request header that carries the token
TOKEN_HEADER = "X-Order-Token"  # noqa: S105  (a header name, not a secret)


class OrderTokenRequired(Unauthorized):
    default_code = "ORDER_TOKEN_REQUIRED"


class OrderTokenInvalid(Forbidden):
    default_code = "ORDER_TOKEN_INVALID"


class Access(enum.StrEnum):
    """How much of an order a caller may see and do."""

    PUBLIC = "public"  # status and what is needed to pay; no mutations
    OWNER = "owner"  # the order token matched: everything about this order
    OPERATOR = "operator"  # an operator's JWT: every order


def new_order_token() -> str:
    """A fresh order token (shown to the customer once, never stored)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_order_token(token: str) -> str:
    """The stored form of a token: SHA-256, 64 lowercase hex characters."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(presented: str | None, stored_hash: str | None) -> bool:
    """Whether ``presented`` is the token whose hash is ``stored_hash`` (constant time)."""
    if not presented or not stored_hash or len(presented) > MAX_TOKEN_LENGTH:
        return False
    return hmac.compare_digest(hash_order_token(presented), stored_hash)


def access_of(presented: str | None, stored_hash: str | None, *, operator: bool) -> Access:
    """The access a caller has to an order (never raises: reads use it to pick a view)."""
    if operator:
        return Access.OPERATOR
    if token_matches(presented, stored_hash):
        return Access.OWNER
    return Access.PUBLIC


def require_owner(presented: str | None, stored_hash: str | None, *, operator: bool) -> Access:
    """The access of a caller allowed to act on the order, else the error to answer with:
    no token -> ``OrderTokenRequired`` (401), a wrong one or an order that has none ->
    ``OrderTokenInvalid`` (403)."""
    access = access_of(presented, stored_hash, operator=operator)
    if access is not Access.PUBLIC:
        return access
    if stored_hash is None:
        raise OrderTokenInvalid(
            "this order has no order token (it was created in the Telegram bot or by a payment):"
            " manage it in the bot, or ask an operator"
        )
    if not presented:
        raise OrderTokenRequired(
            f"send the order token returned by create-order in the {TOKEN_HEADER} header"
        )
    raise OrderTokenInvalid(f"the {TOKEN_HEADER} header does not match this order")
