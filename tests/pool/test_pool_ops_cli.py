"""``tronrent pool edit|disable|enable|maintenance|remove`` in real subprocesses on both
databases: one line out, exit 0; bad input one line and exit 2; unknown pool or pool in use one
line and exit 1; every change recorded as ``cli:<os user>`` with its reason."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subprocesses import COMMAND, clean_env
from trondevnet.testing import new_key
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.models import EnergyPool, PoolStatus
from tronrent.pool.service import pool as pool_service


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "pool", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def box_key() -> str:
    return generate_key()


@pytest.fixture
def env(tmp_path: Path, database_url: str, box_key: str) -> dict[str, str]:
    return clean_env(
        tmp_path / "data",
        DATABASE_URL=database_url,
        SECRET_KEYS=box_key,
        JWT_SECRET="j" * 40,
        LOG_LEVEL="ERROR",
    )


@pytest.fixture
async def pool(session_maker: async_sessionmaker[AsyncSession], box_key: str) -> EnergyPool:
    async with session_maker() as s, s.begin():
        p = await pool_service.add(
            s, SecretBox([box_key]), chain=None, check=False, private_key=new_key().hex()
        )
        p.available_energy = 1_000_000
    return p


async def fresh(session_maker: async_sessionmaker[AsyncSession], pool: EnergyPool) -> EnergyPool:
    async with session_maker() as s:
        row = await s.get(EnergyPool, pool.id)
        assert row is not None
        return row


def one_error(r: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert r.returncode == code, (r.stdout, r.stderr)
    [line] = r.stderr.strip().splitlines()
    assert fragment in line, line
    assert r.stdout == ""


async def test_edit_and_status_commands(
    env: dict[str, str],
    tmp_path: Path,
    pool: EnergyPool,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    r = run(
        env,
        tmp_path,
        "edit",
        pool.tron_address,
        "--priority",
        "4",
        "--daily-limit",
        "500000",
        "--min",
        "1000",
        "--reason",
        "night cap",
    )
    assert r.returncode == 0, r.stderr
    [line] = r.stdout.splitlines()
    assert line.startswith("pool edited:") and "prio=4" in line and "daily_limit=500000" in line
    row = await fresh(session_maker, pool)
    assert (row.priority, row.daily_limit, row.min_delegation_amount) == (4, 500_000, 1000)
    for command, status in (
        ("maintenance", PoolStatus.MAINTENANCE),
        ("disable", PoolStatus.INACTIVE),
        ("enable", PoolStatus.ACTIVE),
    ):
        r = run(env, tmp_path, command, str(pool.id), "--reason", f"{command} now")
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.splitlines()) == 1
        assert (await fresh(session_maker, pool)).status is status
    r = run(env, tmp_path, "edit", str(pool.id), "--daily-limit", "0", "--reason", "uncapped")
    assert r.returncode == 0, r.stderr
    assert (await fresh(session_maker, pool)).daily_limit is None
    async with session_maker() as s:
        rows = await pool_service.changes(s, pool.id)
    assert [c.reason for c in rows] == [
        "uncapped",
        "enable now",
        "disable now",
        "maintenance now",
        "night cap",
    ]
    assert {c.actor for c in rows} == {f"cli:{getpass.getuser()}"}


async def test_bad_input_and_unknown_pool(
    env: dict[str, str],
    tmp_path: Path,
    pool: EnergyPool,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    ref = pool.tron_address
    one_error(run(env, tmp_path, "edit", ref, "--priority", "0", "--reason", "r"), 2, "priority")
    one_error(
        run(env, tmp_path, "edit", ref, "--min", "10", "--max", "5", "--reason", "r"),
        2,
        "must not exceed",
    )
    one_error(run(env, tmp_path, "edit", ref, "--cost", "-1", "--reason", "r"), 2, "negative")
    one_error(run(env, tmp_path, "edit", ref, "--reason", "r"), 2, "nothing to change")
    one_error(run(env, tmp_path, "disable", ref, "--reason", "  "), 2, "reason is required")
    r = run(env, tmp_path, "disable", ref)  # --reason missing: typer's usage error
    assert r.returncode == 2 and "--reason" in r.stderr
    one_error(run(env, tmp_path, "disable", "TNoSuchPool", "--reason", "r"), 1, "no pool")
    one_error(
        run(env, tmp_path, "remove", "6f1c0d5e-0000-4000-8000-000000000000", "--reason", "r"),
        1,
        "not found",
    )
    async with session_maker() as s:
        assert list(await pool_service.changes(s, pool.id)) == []


async def test_remove(
    env: dict[str, str],
    tmp_path: Path,
    pool: EnergyPool,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    async with session_maker() as s, s.begin():
        assert await pool_service.reserve(s, pool.id, 65_000)
    one_error(run(env, tmp_path, "remove", pool.tron_address, "--reason", "retire"), 1, "still")
    async with session_maker() as s, s.begin():
        await pool_service.release(s, pool.id, 65_000, failed=False)
    r = run(env, tmp_path, "remove", pool.tron_address, "--reason", "retire")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("pool removed:")
    assert (await fresh(session_maker, pool)).removed_at is not None
    r = run(env, tmp_path, "list")
    assert pool.tron_address not in r.stdout
