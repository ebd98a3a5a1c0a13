"""``tronrent pool add|sync`` in real subprocesses against the devnet and both databases: a bad
key is one line and exit 2, an unusable account is refused (or kept disabled with --force), and
``pool sync`` prints one line per pool and goes on past a bad one."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flash.conftest import TRX, add_pool, stake
from subprocesses import COMMAND, clean_env
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, new_key
from tronproto.keys import SECP256K1_ORDER
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.crypto import SecretBox
from tronrent.pool.service import pool as pool_service


async def tronrent(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """The command as a subprocess, without blocking the loop the in-process devnet runs on."""
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=120)
    assert process.returncode is not None
    return subprocess.CompletedProcess(list(args), process.returncode, out.decode(), err.decode())


@pytest.fixture
def env(tmp_path: Path, database_url: str, devnet: DevnetServer, box_key: str) -> dict[str, str]:
    """The test's database, devnet and secret box (the key pools are encrypted under)."""
    return clean_env(
        tmp_path / "data",
        DATABASE_URL=database_url,
        TRON_NODE_URLS=devnet.url,
        SECRET_KEYS=box_key,
        JWT_SECRET="j" * 40,
        LOG_LEVEL="ERROR",
    )


@pytest.mark.parametrize(
    "key,why",
    [
        ("00" * 32, "curve order"),
        (f"{SECP256K1_ORDER:064x}", "curve order"),
        ("ff" * 32, "curve order"),
        ("xy" * 32, "hexadecimal"),
        ("abc", "64 hex characters"),
    ],
)
async def test_add_bad_key_is_one_line_and_exit_2(tmp_path: Path, key: str, why: str) -> None:
    env = clean_env(tmp_path / "data")  # first run: secrets generated, nothing else printed
    r = await tronrent("pool", "add", "--key-stdin", env=env, cwd=tmp_path, stdin=key + "\n")
    assert r.returncode == 2, r.stderr
    [line] = r.stderr.splitlines()
    assert line.startswith("error: privateKey is invalid") and why in line
    assert key not in r.stderr + r.stdout and r.stdout == ""


async def test_add_checks_the_account(
    env: dict[str, str], tmp_path: Path, devnet: DevnetServer
) -> None:
    missing = new_key()
    r = await tronrent(
        "pool", "add", "--key-stdin", env=env, cwd=tmp_path, stdin=missing.hex() + "\n"
    )
    assert r.returncode == 1
    [line] = r.stderr.splitlines()
    assert "does not exist on chain" in line and "force" in line

    unstaked = funded_key(devnet.chain, 10 * TRX)
    r = await tronrent(
        "pool", "add", "--key-stdin", env=env, cwd=tmp_path, stdin=unstaked.hex() + "\n"
    )
    assert r.returncode == 1 and "no TRX staked for energy" in r.stderr

    r = await tronrent(
        "pool", "add", "--force", "--key-stdin", env=env, cwd=tmp_path, stdin=missing.hex() + "\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"pool added DISABLED (maintenance): {missing.address_base58}")

    good = funded_key(devnet.chain, 1_100 * TRX)
    stake(devnet, good, 1_000)
    devnet.node.produce()
    r = await tronrent(
        "pool", "add", "--name", "good", "--key-stdin", env=env, cwd=tmp_path,
        stdin=good.hex() + "\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"pool added: {good.address_base58}"
    r = await tronrent("pool", "list", env=env, cwd=tmp_path)
    listed = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert "flagged: account" in listed[missing.address_base58]
    assert "active" in listed[good.address_base58] and "flagged" not in listed[good.address_base58]


async def test_sync_prints_each_pool_and_goes_past_a_bad_one(
    env: dict[str, str],
    tmp_path: Path,
    devnet: DevnetServer,
    gateway: TronGateway,
    box: SecretBox,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    _, good = await add_pool(session_maker, devnet, gateway, box, name="good")
    bad_key = new_key()
    async with session_maker() as s:
        bad = await pool_service.add(
            s, box, chain=None, check=False, private_key=bad_key.hex(), name="bad"
        )
        await s.commit()
    r = await tronrent("pool", "sync", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert lines[good.tron_address].split()[1:3] == ["good", "ok"]
    assert lines[bad.tron_address].split()[1:3] == ["bad", "flagged"]
    assert "does not exist on chain" in lines[bad.tron_address]
    assert r.stdout.splitlines()[-1] == "synced 1 of 2 pool(s)"

    devnet.chain.faucet(bad_key.address, trx_sun=1_100 * TRX)
    stake(devnet, bad_key, 1_000)
    devnet.node.produce()
    r = await tronrent("pool", "sync", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "(flag cleared, active again)" in r.stdout
    assert r.stdout.splitlines()[-1] == "synced 2 of 2 pool(s)"
