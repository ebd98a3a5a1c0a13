"""The broadcast client (`keepalive`, aiohttp) against the real devnet: answers, one kept
connection, HTTP errors as the gateway's failover expects them; and against a bare server that
drops each connection after its answer: a closed connection is never reused."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx
import pytest

from trondevnet.node import FaultRule
from trondevnet.server import DevnetServer
from tronrent.adapters.tron.gateway import retry_after_seconds
from tronrent.adapters.tron.keepalive import KeepAlivePoster, usable


def URL(devnet: DevnetServer) -> str:
    return devnet.url.rstrip("/") + "/"


def counting() -> tuple[aiohttp.TraceConfig, dict[str, int]]:
    """A trace config counting the connections opened and reused (aiohttp's public hooks)."""
    counts = {"created": 0, "reused": 0}
    trace = aiohttp.TraceConfig()

    async def created(_s: aiohttp.ClientSession, _c: SimpleNamespace, _p: Any) -> None:
        counts["created"] += 1

    async def reused(_s: aiohttp.ClientSession, _c: SimpleNamespace, _p: Any) -> None:
        counts["reused"] += 1

    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace, counts


def test_usable_urls() -> None:
    assert usable("http://127.0.0.1:8090/") and usable("https://api.trongrid.io/")
    assert not usable("https://user:secret@node.example/")  # credentials: httpx does them
    assert not usable("http://node.example/?key=1")


async def test_answers_and_reuses_one_connection(devnet: DevnetServer) -> None:
    trace, counts = counting()
    poster = KeepAlivePoster(timeout_s=5, trace_configs=[trace])
    try:
        blocks = [await poster.post(f"{URL(devnet)}wallet/getnowblock", {}) for _ in range(3)]
        numbers = [b["block_header"]["raw_data"].get("number", 0) for b in blocks]
        assert numbers == sorted(numbers)
        assert counts == {"created": 1, "reused": 2}  # one connection, kept
        answer = await poster.post(f"{URL(devnet)}wallet/getaccount", {"address": "xx"})
        assert isinstance(answer, dict)
    finally:
        await poster.aclose()


async def test_a_connection_the_node_closed_is_not_reused() -> None:
    accepted = 0

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        body = b'{"result": true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # without "Connection: close": the client learns it from the socket

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    poster = KeepAlivePoster(timeout_s=5)
    try:
        for _ in range(3):
            assert await poster.post(f"http://127.0.0.1:{port}/wallet/x", {"a": 1}) == {
                "result": True
            }
            await asyncio.sleep(0.2)  # the node has closed it by now
        assert accepted == 3
    finally:
        await poster.aclose()
        server.close()
        await server.wait_closed()


async def test_http_errors_carry_status_and_retry_after(devnet: DevnetServer) -> None:
    devnet.node.set_fault(FaultRule(path="/wallet/getnowblock", rate_limit_rate=1.0, retry_after=7))
    poster = KeepAlivePoster(timeout_s=5)
    try:
        with pytest.raises(httpx.HTTPStatusError) as exc:
            await poster.post(f"{URL(devnet)}wallet/getnowblock", {})
        assert exc.value.response.status_code == 429
        assert retry_after_seconds(exc.value.response) == 7
        devnet.node.clear_faults()
        assert "block_header" in await poster.post(f"{URL(devnet)}wallet/getnowblock", {})
    finally:
        devnet.node.clear_faults()
        await poster.aclose()


async def test_nobody_listening_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    poster = KeepAlivePoster(timeout_s=5)
    try:
        with pytest.raises(httpx.TransportError):
            await poster.post(f"http://127.0.0.1:{port}/wallet/getnowblock", {})
    finally:
        await poster.aclose()
