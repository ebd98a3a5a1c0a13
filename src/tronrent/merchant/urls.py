"""Callback URLs: shape checked when set, targets checked before every delivery (SSRF).

A callback URL must be ``http`` or ``https`` with a host and no credentials. Before each
delivery the host is resolved and refused when any address is private, loopback, link-local,
multicast, reserved or unspecified, unless ``MERCHANT_CALLBACK_ALLOW_PRIVATE`` is set (tests,
a receiver on the operator's own network). The HTTP client resolves the name again when it
connects, so a DNS answer that changes in between (rebinding) is not caught: run the sender
behind an egress firewall where that matters.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from tronrent.merchant.errors import InvalidCallbackUrl

MAX_URL = 500


def check_callback_url(url: str | None) -> str | None:
    """The URL stripped (None for None or blank); `InvalidCallbackUrl` (422) otherwise."""
    if url is None or not url.strip():
        return None
    text = url.strip()
    if len(text) > MAX_URL:
        raise InvalidCallbackUrl(f"callback URL longer than {MAX_URL} characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidCallbackUrl("callback URL is malformed") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCallbackUrl("callback URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise InvalidCallbackUrl("callback URL must not carry credentials")
    if port == 0 or any(c in text for c in "\x00\r\n \t"):
        raise InvalidCallbackUrl("callback URL is malformed")
    return text


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def target_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why the URL must not be called now (None: go ahead): unresolvable, or a non-public
    address while ``allow_private`` is off."""
    host = urlsplit(url).hostname or ""
    if allow_private:
        return None
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            return f"cannot resolve {host}: {exc.strerror or type(exc).__name__}"
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not _public(address):
            return f"refused: {host} resolves to a non-public address ({address})"
    return None
