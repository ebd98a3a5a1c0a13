"""The ``tronrent`` command in real subprocesses: configuration errors, migrate, admin create,
serve answering /api/health, the unmigrated-database refusal, keygen, devnet."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from subprocesses import COMMAND, clean_env, free_port, stop
from tronrent.config import field_docs

PASSWORD = "a long enough password"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: none of our variables, a private DATA_DIR (embedded default)."""
    return clean_env(tmp_path / "data")


def tronrent(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def background(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; stopped (SIGTERM, then SIGKILL) afterwards."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        stop(process, 15)


def wait_for(url: str, process: subprocess.Popen[str], *, method: str = "GET") -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}")
        try:
            return httpx.request(method, url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within 60 s")


def test_bad_setting_is_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    result = tronrent("serve", env={**env, "PAYMENT_TIMEOUT": "abc"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: PAYMENT_TIMEOUT: must be a positive integer (milliseconds), got 'abc'"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_serve_refuses_a_role_of_several_processes_on_sqlite(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = tronrent("serve", "--role", "api", "--role", "bots", env=env, cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1 and errors[0].startswith(
        "configuration error: serve role api,bots shares its work with other processes and "
        "needs PostgreSQL (DATABASE_URL is SQLite), Redis"
    )
    result = tronrent("serve", "--role", "engine,scanner", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("configuration error: --role: unknown role 'scanner'")


def test_serve_refuses_unmigrated_database(env: dict[str, str], tmp_path: Path) -> None:
    result = tronrent("serve", "--port", str(free_port()), env=env, cwd=tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert errors == [
        "error: database is not initialised (no schema): run `tronrent migrate` first"
    ]
    assert "Traceback" not in result.stderr


def test_migrate_admin_serve_health_login(
    env: dict[str, str], tmp_path: Path, background: list[subprocess.Popen[str]]
) -> None:
    migrated = tronrent("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == "database migrated to head"

    created = tronrent(
        "admin", "create", "--username", "root", "--role", "admin", "--password-stdin",
        env=env, cwd=tmp_path, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created admin 'root'")
    assert PASSWORD not in created.stdout + created.stderr

    listed = tronrent("admin", "list", env=env, cwd=tmp_path)
    assert listed.stdout.splitlines() == ["root\tadmin\tactive"]

    port = free_port()
    server = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    background.append(server)
    health = wait_for(f"http://127.0.0.1:{port}/api/health", server)
    assert health.status_code == 200, health.text
    checks = health.json()["data"]["checks"]
    assert checks["database"]["status"] == "ok"
    # the in-process devnet is the chain here: reachable, with a fresh head block
    assert checks["chain"]["status"] == "ok" and checks["chain"]["headBlock"] >= 0

    login = httpx.post(
        f"http://127.0.0.1:{port}/api/auth/login",
        json={"username": "root", "password": PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200
    assert login.json()["data"]["role"] == "admin"

    server.send_signal(signal.SIGTERM)
    # stops promptly (2.5 s measured on a loaded machine; TimeoutExpired past 30 s), no traceback
    _, stderr = server.communicate(timeout=30)
    assert "Traceback" not in stderr
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert server.returncode in (0, -signal.SIGTERM)
    assert '"action": "api.stopped"' in stderr
    assert PASSWORD not in stderr
    assert login.json()["data"]["accessToken"] not in stderr
    assert '"action": "api.started"' in stderr


def test_keygen(env: dict[str, str], tmp_path: Path) -> None:
    result = tronrent("keygen", env=env, cwd=tmp_path)
    assert result.returncode == 0
    Fernet(result.stdout.strip().encode())


def test_config_masks_secrets(env: dict[str, str], tmp_path: Path) -> None:
    result = tronrent(
        "config",
        env={
            **env,
            "JWT_SECRET": "j" * 40,
            "DATABASE_URL": "postgresql://user:hunter2@db:5432/tron_energy",
        },
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "jjjj" not in result.stdout and "hunter2" not in result.stdout
    assert "JWT_SECRET=(set, hidden)" in result.stdout
    assert "DATABASE_URL=postgresql://user:***@db:5432/tron_energy" in result.stdout


def test_devnet_passes_options_through(
    env: dict[str, str], tmp_path: Path, background: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    devnet = subprocess.Popen(
        [*COMMAND, "devnet", "--port", str(port), "--block-interval-ms", "500"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    background.append(devnet)
    response = wait_for(f"http://127.0.0.1:{port}/wallet/getnowblock", devnet, method="POST")
    assert response.status_code == 200
    assert "block_header" in response.json()
    assert devnet.stdout is not None
    assert '"block_interval_ms": 500' in devnet.stdout.readline()


def test_config_table_documents_every_variable() -> None:
    from typer.testing import CliRunner

    from tronrent.cli import app

    result = CliRunner().invoke(app, ["config", "--table"])
    assert result.exit_code == 0
    rows = [line for line in result.stdout.splitlines() if line.startswith("| `")]
    assert {row.split("`")[1] for row in rows} == set(field_docs())
