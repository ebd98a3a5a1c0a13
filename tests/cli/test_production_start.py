"""``tronrent serve`` at the edge: ``ENVIRONMENT=production`` with no ``TRON_NODE_URLS`` refuses
to start with one clear line; a running ``serve`` does not let a local client rotate
``X-Forwarded-For`` past the rate limit (uvicorn's own proxy headers are off)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from subprocesses import COMMAND, clean_env, free_port, stop


def test_serve_refuses_production_without_node_urls(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    env.update(
        ENVIRONMENT="production",
        SECRET_KEYS=Fernet.generate_key().decode(),
        JWT_SECRET="s" * 40,
    )
    result = subprocess.run(
        [*COMMAND, "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "or TRON_NODE_URLS must be set when ENVIRONMENT=production" in lines[0]
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_serve_ignores_forwarded_for_from_an_untrusted_peer(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", RATE_LIMIT_PER_MINUTE="5", TRON_DEVNET_PORT=str(free_port()))
    migrated = subprocess.run(
        [*COMMAND, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    server = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, "serve exited"
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.2)
        statuses = [
            httpx.get(
                f"{base}/api/nothing", headers={"X-Forwarded-For": f"192.0.2.{i}"}, timeout=5
            ).status_code
            for i in range(10)
        ]
    finally:
        stop(server, 15)
    assert statuses == [404] * 5 + [429] * 5
