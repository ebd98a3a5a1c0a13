"""``tronrent pool staking|stake|unstake|withdraw|cancel-unstake|permission-update`` and
``pool add --owner --permission-id`` in real subprocesses against the devnet (both databases):
the chain's figures printed, bad input one line and exit 2, refusals exit 1, changes recorded as
``cli:<os user>``."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subprocesses import COMMAND, clean_env
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.models import EnergyPool
from tronrent.pool.service import pool as pool_service

TRX = 1_000_000


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    async with DevnetServer(port=0, block_interval_ms=100) as server:
        yield server


@pytest.fixture
def box_key() -> str:
    return generate_key()


@pytest.fixture
def env(tmp_path: Path, database_url: str, box_key: str, devnet: DevnetServer) -> dict[str, str]:
    return clean_env(
        tmp_path / "data",
        DATABASE_URL=database_url,
        SECRET_KEYS=box_key,
        JWT_SECRET="j" * 40,
        LOG_LEVEL="ERROR",
        TRON_NODE_URLS=devnet.url,
    )


async def run(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """The CLI in a subprocess without blocking the loop (the devnet answers in it)."""
    proc = await asyncio.create_subprocess_exec(
        *COMMAND,
        "pool",
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    return proc.returncode or 0, out.decode(), err.decode()


def staked(devnet: DevnetServer, trx: int = 500, extra: int = 300) -> PrivateKey:
    key = funded_key(devnet.chain, (trx + extra) * TRX)
    submit(
        devnet.chain,
        key,
        "FreezeBalanceV2Contract",
        {"frozen_balance": trx * TRX, "resource": "ENERGY"},
    )
    devnet.node.produce()
    return key


@pytest.mark.timeout(900)  # a dozen CLI processes on a loaded machine
async def test_staking_commands(
    env: dict[str, str],
    tmp_path: Path,
    devnet: DevnetServer,
    box_key: str,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    key = staked(devnet)
    async with TronGateway([devnet.url], timeout_s=5) as gw, session_maker() as s:
        pool = await pool_service.add(s, SecretBox([box_key]), chain=gw, private_key=key.hex())
        await s.commit()
    code, out, err = await run(env, tmp_path, "staking", pool.tron_address)
    assert code == 0, err
    assert (
        "staked for energy    500 TRX (not delegated)" in out
        and "unstakes left        32 of 32" in out
    )

    code, out, err = await run(
        env, tmp_path, "stake", pool.tron_address, "12.5", "--reason", "more"
    )
    assert code == 0, err
    assert out.startswith("stake confirmed: txid ") and "staked for energy    512.5 TRX" in out

    code, out, err = await run(env, tmp_path, "unstake", str(pool.id), "2", "--reason", "less")
    assert code == 0, err
    assert "unstaking            2 TRX, withdrawable from " in out

    for args, fragment in (
        (("stake", pool.tron_address, "1.0000001", "--reason", "r"), "amount"),
        (("stake", pool.tron_address, "10000", "--reason", "r"), "less than"),
    ):
        code, out, err = await run(env, tmp_path, *args)
        assert code == 2 and out == "" and fragment in err, (code, out, err)

    async with session_maker() as s:
        history = await pool_service.changes(s, pool.id)
    user = getpass.getuser()
    assert [(c.action.value, c.actor) for c in history] == [
        ("unstake", f"cli:{user}"),
        ("stake", f"cli:{user}"),
    ]


@pytest.mark.timeout(900)
async def test_permission_update_and_delegate_only_add(
    env: dict[str, str],
    tmp_path: Path,
    devnet: DevnetServer,
    box_key: str,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    owner, hot = staked(devnet), PrivateKey.random()
    # without --sign: the unsigned transaction for an offline wallet
    code, out, err = await run(
        env, tmp_path, "permission-update", owner.address_base58, "--signer", hot.address_base58
    )
    assert code == 0, err
    body = json.loads(out[: out.rindex("}") + 1])
    contract = body["raw_data"]["contract"][0]
    assert contract["type"] == "AccountPermissionUpdateContract"
    assert "permission id once applied: 3" in out
    # with --sign: the owner key from stdin signs it
    code, out, err = await run(
        env,
        tmp_path,
        "permission-update",
        owner.address_base58,
        "--signer",
        hot.address_base58,
        "--sign",
        "--key-stdin",
        stdin=owner.hex() + "\n",
    )
    assert code == 0, err
    assert "permission update confirmed" in out and "--permission-id 3" in out
    code, out, err = await run(
        env,
        tmp_path,
        "add",
        "--owner",
        owner.address_base58,
        "--permission-id",
        "3",
        "--key-stdin",
        stdin=hot.hex() + "\n",
    )
    assert code == 0, err
    assert out.strip() == f"pool added (delegate-only): {owner.address_base58}"
    assert hot.hex() not in out + err
    async with session_maker() as s:
        pool = await pool_service.get_by_address(s, owner.address_base58)
        assert isinstance(pool, EnergyPool) and pool.permission_id == 3
    code, out, err = await run(env, tmp_path, "stake", owner.address_base58, "1", "--reason", "r")
    assert code == 1 and "owner key is offline" in err
