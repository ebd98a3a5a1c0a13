"""``ENVIRONMENT=production`` with no ``TRON_NODE_URLS``: ``tronrent serve`` refuses to start
with one clear line (no devnet, no demo pool, no port opened)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography.fernet import Fernet

from subprocesses import COMMAND, clean_env


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
    assert "TRON_NODE_URLS must be set when ENVIRONMENT=production" in lines[0]
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
