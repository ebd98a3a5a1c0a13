"""Run the devnet over HTTP: in-process (`DevnetServer`) or as a process (`serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import uvicorn

from trondevnet.chain import Chain
from trondevnet.config import DevnetConfig
from trondevnet.http import DevnetApp
from trondevnet.node import DevnetNode


def _uvicorn_config(app: DevnetApp, **kwargs: Any) -> uvicorn.Config:
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:  # pragma: no cover
        http = "h11"
    return uvicorn.Config(
        app,
        http=http,
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        **kwargs,
    )


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone (in-process use)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DevnetServer:
    """An in-process devnet: `async with DevnetServer(port=0) as node: node.url, node.chain`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        block_interval_ms: int = 3000,
        config: DevnetConfig | None = None,
        seed: int | None = None,
        produce_blocks: bool = True,
        handle_signals: bool = False,
        **config_overrides: Any,
    ) -> None:
        if config is None:
            config = DevnetConfig(block_interval_ms=block_interval_ms, **config_overrides)
        self.host = host
        self.requested_port = port
        self.node = DevnetNode(config, seed=seed)
        self.produce_blocks = produce_blocks
        self.handle_signals = handle_signals
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def chain(self) -> Chain:
        return self.node.chain

    @property
    def config(self) -> DevnetConfig:
        return self.node.config

    @property
    def port(self) -> int:
        return self.node.port

    def produce(self, count: int = 1) -> None:
        """Produce `count` blocks now."""
        self.node.produce(count)

    @property
    def url(self) -> str:
        """Base URL with a trailing slash (what tronpy's provider needs)."""
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> DevnetServer:
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then
        # (base_events._set_nodelay checks sock.proto); without it every answer waited ~40 ms
        # for the client's delayed ACK (Nagle), i.e. each node request took 44 ms in-process
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        sock.listen(2048)
        sock.setblocking(False)
        self._sock = sock
        self.node.port = sock.getsockname()[1]
        config = _uvicorn_config(DevnetApp(self.node))
        self._server = uvicorn.Server(config) if self.handle_signals else _QuietServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.005)
        if self.produce_blocks:
            self.node.start()
        return self

    async def stop(self) -> None:
        await self.node.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sock is not None:
            self._sock.close()

    async def __aenter__(self) -> DevnetServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve(
    host: str = "127.0.0.1",
    port: int = 8090,
    block_interval_ms: int = 3000,
    config: DevnetConfig | None = None,
    **config_overrides: Any,
) -> None:
    """Serve the devnet until cancelled (used by `tronrent devnet` and `python -m trondevnet`)."""
    server = DevnetServer(
        host=host,
        port=port,
        block_interval_ms=block_interval_ms,
        config=config,
        handle_signals=True,
        **config_overrides,
    )
    await server.start()
    try:
        assert server._task is not None
        await server._task
    finally:
        await server.stop()
