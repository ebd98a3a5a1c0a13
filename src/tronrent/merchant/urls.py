"""Callback URLs: shape checked when set, targets checked before every delivery (SSRF).

A callback URL must be ``http`` or ``https`` with no credentials and a host that is an IP
literal or a valid DNS name (`valid_host`: the resolver's IDNA encoding would refuse anything
else at delivery - a ``UnicodeError``, not an ``OSError``). Before each
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
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from tronrent.merchant.errors import InvalidCallbackUrl

#: host name -> its addresses (``getaddrinfo``; tests pass their own)
Resolver = Callable[[str], Awaitable[list[str]]]

MAX_URL = 500
MAX_HOST = 253  # a DNS name's text form, without the root's trailing dot
#: one DNS label once IDNA-encoded (host names; ``_`` too: service names use it)
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def valid_host(host: str) -> bool:
    """True for an IP literal or a DNS name the resolver can encode: labels of 1-63 letters,
    digits, ``-`` or ``_`` (not starting or ending with ``-``) once IDNA-encoded, at most 253
    characters (one trailing dot allowed). ``a..b``, a 64-character label or a name IDNA
    cannot encode would otherwise pass and fail only at ``getaddrinfo``."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host.lower().removesuffix(".")
    try:
        encoded = name.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    if not encoded or len(encoded) > MAX_HOST:
        return False
    return all(_LABEL_RE.fullmatch(label) for label in encoded.split("."))


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
    if not valid_host(parts.hostname):
        raise InvalidCallbackUrl("callback URL's host is not a valid DNS name or IP address")
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
    must not be called now (malformed or unresolvable; a non-public address while
    ``allow_private`` is off). Never raises for a bad URL or a resolver error: a URL stored
    before `check_callback_url` refused its kind is an unresolvable target (the attempt
    logged as failed, retried on the schedule), not an exception that stops the round."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return "callback URL is malformed"
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        if not valid_host(host):
            return f"cannot resolve {host!r}: not a valid DNS name"
        try:
            addresses = await resolve(host)
        except OSError as exc:
            return f"cannot resolve {host}: {exc.strerror or type(exc).__name__}"
        except ValueError as exc:  # UnicodeError (IDNA) included
            return f"cannot resolve {host}: {type(exc).__name__}: {exc}"
    if not addresses:
        return f"cannot resolve {host}: no address"
    if not allow_private:
        for address in addresses:
            if not _public(address):
                return f"refused: {host} resolves to a non-public address ({address})"
    return Target(url, host, tuple(a.split("%", 1)[0] for a in addresses))


async def post_pinned(
    client: aiohttp.ClientSession,
    target: Target,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> int:
    """POST to the target's checked addresses, in order, until one connects (the next only
    when a connection could not be made: nothing was sent); the answer's status code (its
    body is not read). The name is never resolved again: the URL carries the address;
    ``Host`` and, for https, the TLS server name (SNI and the certificate check) stay the
    name. Raises `aiohttp.ClientConnectorError` when no address connects (a certificate
    refused: `aiohttp.ClientConnectorCertificateError`), `aiohttp.ClientError` or
    `TimeoutError` for a request that failed after connecting."""
    url = URL(target.url)
    host = url.host or target.host
    sent_headers = {**headers, "Host": url.host_port_subcomponent or host}
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    failure: aiohttp.ClientConnectorError | None = None
    for address in target.addresses:
        try:
            async with client.post(
                url.with_host(address),
                data=content,
                headers=sent_headers,
                timeout=timeout,
                allow_redirects=False,
                server_hostname=host if url.scheme == "https" else None,
            ) as response:
                return response.status
        except aiohttp.ClientConnectorCertificateError:
            raise  # the address answered with a certificate not for the name: no other try
        except aiohttp.ClientConnectorError as exc:
            failure = exc
    assert failure is not None
    raise failure
