"""Callback targets: resolved once, every address checked, the request pinned to a checked
address (DNS rebinding), against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tronrent.merchant.urls import Target, post_pinned, resolve_target


@contextlib.asynccontextmanager
async def http_server() -> AsyncIterator[tuple[int, list[str]]]:
    """(port, the Host header of every request) of a server answering 204 on 127.0.0.1."""
    hosts: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:] if line)
            }
            await reader.readexactly(int(headers.get("content-length", "0")))
            hosts.append(headers.get("host", ""))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], hosts
    finally:
        server.close()


class Rebinding:
    """A resolver whose first answer is 127.0.0.1 and every later one a public address (the
    rebinding attack: checked on one answer, connected on another)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.calls.append(host)
        return ["127.0.0.1"] if len(self.calls) == 1 else ["93.184.216.34"]


class TestResolveTarget:
    async def test_localhost_refused_unless_allowed(self) -> None:
        """A name (not a literal) resolving to loopback: refused with the setting off."""
        why = await resolve_target("http://localhost:1/cb", allow_private=False)
        assert isinstance(why, str) and "non-public" in why and "localhost" in why
        target = await resolve_target("http://localhost:1/cb", allow_private=True)
        assert isinstance(target, Target) and "127.0.0.1" in target.addresses

    async def test_every_address_checked(self) -> None:
        async def mixed(_host: str) -> list[str]:
            return ["93.184.216.34", "10.1.2.3"]

        why = await resolve_target("https://shop.example/cb", allow_private=False, resolve=mixed)
        assert isinstance(why, str) and "10.1.2.3" in why

    async def test_public_name_kept_with_its_addresses(self) -> None:
        async def public(_host: str) -> list[str]:
            return ["93.184.216.34", "2606:2800:220:1::1"]

        url = "https://shop.example/cb"
        target = await resolve_target(url, allow_private=False, resolve=public)
        assert isinstance(target, Target)
        assert target.addresses == ("93.184.216.34", "2606:2800:220:1::1")

    async def test_unresolvable(self) -> None:
        async def nothing(_host: str) -> list[str]:
            raise OSError(-2, "Name or service not known")

        url = "https://nowhere.example/cb"
        why = await resolve_target(url, allow_private=True, resolve=nothing)
        assert isinstance(why, str) and why.startswith("cannot resolve nowhere.example")

    @pytest.mark.parametrize(
        "error", [UnicodeError("label empty or too long"), ValueError("bad"), OSError()]
    )
    async def test_any_resolver_error_is_unresolvable(self, error: Exception) -> None:
        """``getaddrinfo`` raises ``UnicodeError`` (a ``ValueError``) for a name IDNA cannot
        encode: unresolvable like an ``OSError`` (an attempt logged as failed), never an
        exception out of the sender's round."""

        async def broken(_host: str) -> list[str]:
            raise error

        why = await resolve_target("https://shop.example/cb", allow_private=True, resolve=broken)
        assert isinstance(why, str) and why.startswith("cannot resolve shop.example")

    @pytest.mark.parametrize(
        "url",
        [
            "http://a..b/cb",
            f"http://{'a' * 64}.example/cb",
            f"http://{'a.' * 130}example/cb",
            "http://[not-an-address/cb",
        ],
    )
    async def test_invalid_host_stored_earlier(self, url: str) -> None:
        """A URL `check_callback_url` refuses now may be stored from before: the system
        resolver is not even asked (it would raise ``UnicodeError``)."""
        why = await resolve_target(url, allow_private=True)
        assert isinstance(why, str)
        assert "not a valid DNS name" in why or "malformed" in why


class TestPinned:
    async def test_request_goes_to_the_checked_address(self) -> None:
        """The name is resolved once; the request reaches the address that was checked (the
        server on 127.0.0.1) with the name in ``Host`` - a second resolution would answer a
        public address (and the system resolver does not know the name at all)."""
        resolver = Rebinding()
        async with http_server() as (port, hosts), aiohttp.ClientSession() as client:
            url = f"http://rebind.invalid:{port}/cb"
            target = await resolve_target(url, allow_private=True, resolve=resolver)
            assert isinstance(target, Target) and target.addresses == ("127.0.0.1",)
            status = await post_pinned(client, target, content=b"{}", headers={}, timeout_s=10)
        assert status == 204
        assert resolver.calls == ["rebind.invalid"]
        assert hosts == [f"rebind.invalid:{port}"]

    async def test_rebinding_refused_when_private_not_allowed(self) -> None:
        resolver = Rebinding()
        url = "http://rebind.invalid/cb"
        why = await resolve_target(url, allow_private=False, resolve=resolver)
        assert isinstance(why, str) and "non-public" in why
        assert resolver.calls == ["rebind.invalid"]

    async def test_next_checked_address_when_one_does_not_connect(self) -> None:
        """localhost may resolve to ::1 first; nothing listens there: the next checked
        address (127.0.0.1) is tried, never an unchecked one."""
        async with http_server() as (port, hosts), aiohttp.ClientSession() as client:
            target = Target(f"http://localhost:{port}/cb", "localhost", ("::1", "127.0.0.1"))
            status = await post_pinned(client, target, content=b"{}", headers={}, timeout_s=10)
        assert status == 204 and hosts == [f"localhost:{port}"]

    async def test_no_checked_address_connects(self) -> None:
        async with http_server() as (port, _), aiohttp.ClientSession() as client:
            pass  # closed: nothing listens on the port any more
        async with aiohttp.ClientSession() as client:
            target = Target(f"http://localhost:{port}/cb", "localhost", ("127.0.0.1",))
            with pytest.raises(aiohttp.ClientConnectorError):
                await post_pinned(client, target, content=b"{}", headers={}, timeout_s=10)
