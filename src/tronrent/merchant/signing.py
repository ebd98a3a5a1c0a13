"""Request and callback signatures (pure): HMAC-SHA256, hex.

A request is signed over ``timestamp \\n METHOD \\n path?query \\n nonce \\n`` followed by the raw
body bytes; a callback over ``timestamp \\n event id \\n`` followed by its JSON body. The
timestamp is Unix seconds. docs/merchant-api.md shows both in curl and Python.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable
from typing import Final

KEY_ID_PREFIX: Final = "mk_"
SECRET_PREFIX: Final = "mks_"  # noqa: S105 - a prefix, not a secret
NONCE_RE: Final = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
KEY_ID_RE: Final = re.compile(r"^mk_[0-9a-f]{24}$")
#: a signature as sent: 64 hex digits, either case (surrounding blanks ignored)
SIGNATURE_RE: Final = re.compile(r"[0-9a-fA-F]{64}")
#: a timestamp as sent: Unix seconds, ASCII digits only (``str.isdigit`` accepts ``"²"``,
#: which ``int`` then refuses)
TIMESTAMP_RE: Final = re.compile(r"[0-9]{1,12}")


def new_key_id() -> str:
    """A public key id: ``mk_`` + 24 hex digits."""
    return KEY_ID_PREFIX + secrets.token_hex(12)


def new_secret() -> str:
    """A signing secret: ``mks_`` + 43 url-safe characters (256 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def request_message(timestamp: str, method: str, path: str, nonce: str, body: bytes) -> bytes:
    """What a request's signature covers (``path`` with its query string, as sent)."""
    return f"{timestamp}\n{method.upper()}\n{path}\n{nonce}\n".encode() + body


def sign(secret: str, message: bytes) -> str:
    """HMAC-SHA256 of ``message`` under ``secret``, lowercase hex."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_request(
    secret: str, *, timestamp: str, method: str, path: str, nonce: str, body: bytes
) -> str:
    return sign(secret, request_message(timestamp, method, path, nonce, body))


def verify(secret: str, message: bytes, signature: str) -> bool:
    """Constant-time comparison of ``signature`` (hex, either case) with the expected one;
    False for anything that is not 64 hex digits (``compare_digest`` raises ``TypeError`` for
    a non-ASCII string: a header such as ``X-Signature: é...`` must be a 401, not a 500)."""
    given = signature.strip()
    if not SIGNATURE_RE.fullmatch(given):
        return False
    return hmac.compare_digest(sign(secret, message), given.lower())


def callback_message(timestamp: str, event_id: str, body: bytes) -> bytes:
    """What a callback's ``X-Signature`` covers."""
    return f"{timestamp}\n{event_id}\n".encode() + body


def parse_allowlist(entries: Iterable[str]) -> list[str]:
    """Normalized networks (``1.2.3.4/32``, ``10.0.0.0/8``, IPv6 alike); `ValueError` for a
    malformed entry."""
    out: list[str] = []
    for raw in entries:
        text = raw.strip()
        if not text:
            continue
        out.append(str(ipaddress.ip_network(text, strict=False)))
    return out


def ip_allowed(ip: str, allowlist: Iterable[str]) -> bool:
    """True when ``allowlist`` is empty or one of its networks holds ``ip``."""
    networks = list(allowlist)
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
