"""Callback URLs: shape checked when set, targets checked before every delivery (SSRF).

A callback URL must be ``http`` or ``https`` with a host and no credentials. Before each
delivery the host is resolved **once** (`resolve_target`) and refused when any of its addresses
is private, loopback, link-local, multicast, reserved or unspecified, unless
``MERCHANT_CALLBACK_ALLOW_PRIVATE`` is set (tests, a receiver on the operator's own network).
The request then goes to one of the checked addresses (`post_pinned`: the URL's host replaced
by the address, ``Host`` and the TLS server name - SNI and certificate check - kept as the
name), so a second DNS answer (rebinding) cannot send it elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from tronrent.merchant.errors import InvalidCallbackUrl

#: host name -> its addresses (``getaddrinfo``; tests pass their own)
Resolver = Callable[[str], Awaitable[list[str]]]

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


async def system_resolve(host: str) -> list[str]:
    """The host's addresses from the system resolver, in its order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Target:
    """A callback URL and the addresses checked for it (connect to these only)."""

    url: str
    host: str
    addresses: tuple[str, ...]


async def resolve_target(
    url: str, *, allow_private: bool, resolve: Resolver = system_resolve
) -> Target | str:
    """The URL's host resolved once and every address checked: a `Target`, or why the URL
    must not be called now (unresolvable; a non-public address while ``allow_private`` is
    off)."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            addresses = await resolve(host)
        except OSError as exc:
            return f"cannot resolve {host}: {exc.strerror or type(exc).__name__}"
    if not addresses:
        return f"cannot resolve {host}: no address"
    if not allow_private:
        for address in addresses:
            if not _public(address):
                return f"refused: {host} resolves to a non-public address ({address})"
    return Target(url, host, tuple(a.split("%", 1)[0] for a in addresses))


async def post_pinned(
    client: httpx.AsyncClient,
    target: Target,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> httpx.Response:
    """POST to the target's checked addresses, in order, until one connects (the next only
    when a connection could not be made: nothing was sent). The name is never resolved
    again: the URL carries the address; ``Host`` and, for https, the TLS server name (SNI and
    the certificate check) stay the name."""
    url = httpx.URL(target.url)
    sent_headers = {**headers, "Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    failure: httpx.ConnectError | None = None
    for address in target.addresses:
        try:
            return await client.post(
                url.copy_with(host=address),
                content=content,
                headers=sent_headers,
                timeout=timeout_s,
                extensions=extensions,
            )
        except httpx.ConnectError as exc:
            failure = exc
    assert failure is not None
    raise failure
