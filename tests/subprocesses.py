"""The ``tronrent`` command in real subprocesses: shared by the CLI and first-run tests and by
``bench/serve_memory.py`` (which puts this folder on ``sys.path``)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tronrent.config import field_docs

SCRIPT = Path(sys.executable).with_name("tronrent")
COMMAND = (
    [str(SCRIPT)]
    if SCRIPT.exists()
    else [sys.executable, "-c", "from tronrent.cli import main; main()"]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This environment without any of our variables, with ``DATA_DIR`` and ``settings``."""
    names = set(field_docs())
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(DATA_DIR=str(data_dir), **settings)
    return env


async def run_command(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tronrent ARGS`` on ``database_url`` in a clean environment, off the event loop."""
    env = clean_env(cwd / "data", DATABASE_URL=database_url)
    return await asyncio.to_thread(
        subprocess.run,
        [*COMMAND, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stop(process: subprocess.Popen[Any], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_serve(
    port: int, env: dict[str, str], output: Path, *args: str
) -> subprocess.Popen[bytes]:
    """``tronrent serve --port port ARGS`` with ``env``; its output appended to ``output``."""
    with output.open("ab") as out:
        return subprocess.Popen(
            [*COMMAND, "serve", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(port: int, process: subprocess.Popen[Any], timeout_s: float = 120) -> None:
    """Until ``serve`` answers HTTP: uvicorn accepts connections only once every lifespan
    hook (the flash engine: scanner, workers, sweeper) has started. Asynchronous, so an
    in-process devnet keeps producing blocks meanwhile."""
    import asyncio

    import httpx

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}")
            try:
                await http.get(f"http://127.0.0.1:{port}/api/health")
                return
            except httpx.TransportError:
                if loop.time() > deadline:
                    raise AssertionError(f"serve did not answer within {timeout_s} s") from None
                await asyncio.sleep(0.05)


def kill9(process: subprocess.Popen[Any]) -> None:
    """SIGKILL, as a crash: no shutdown hook runs (the scanner lease is not released)."""
    process.send_signal(signal.SIGKILL)
    process.wait()
