"""`tronrent serve` keeps an idle keep-alive connection open longer than clients and load
balancers keep theirs: a request sent on a connection idle for a few seconds is answered
(uvicorn's default closed it after 5 s - the moment httpx's pool reuses it - so the client
got "server disconnected")."""

from __future__ import annotations

import asyncio
from pathlib import Path

from subprocesses import clean_env, free_port, start_serve, stop, wait_ready
from tronrent.entrypoints.api import KEEP_ALIVE_S
from tronrent.storage.migrations import upgrade

REQUEST = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return head.split(b"\r\n", 1)[0]


async def test_an_idle_connection_outlives_the_clients_expiry(tmp_path: Path) -> None:
    assert KEEP_ALIVE_S > 60  # load balancers' idle timeouts (AWS ALB, nginx: 60 s)
    data = tmp_path / "data"
    data.mkdir()
    env = clean_env(data, TRON_DEVNET_PORT=str(free_port()), LOG_LEVEL="warning")
    await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{data / 'tronrent.db'}")
    port = free_port()
    process = start_serve(port, env, tmp_path / "serve.out")
    try:
        await wait_ready(port, process)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(REQUEST)
            assert (await answer(reader)).startswith(b"HTTP/1.1 ")
            await asyncio.sleep(6)  # past uvicorn's default (5 s) and httpx's pool expiry
            writer.write(REQUEST)
            assert (await asyncio.wait_for(answer(reader), 10)).startswith(b"HTTP/1.1 ")
        finally:
            writer.close()
    finally:
        await asyncio.to_thread(stop, process, 20)
