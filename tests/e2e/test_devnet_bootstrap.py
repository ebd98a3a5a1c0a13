"""The first-run bootstrap in-process: demo pool added once, funded and staked on every new
chain, same address across restarts, a checkpoint of an old chain dropped (SQLite and
PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.server import DevnetServer
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.demo.devnet import DevnetControl, probe
from tronrent.entrypoints.devnet_bootstrap import (
    DEMO_POOL_NAME,
    TRX,
    drop_stale_checkpoint,
    ensure_demo_pool,
)
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.scanner_checkpoint import ScannerCheckpoint


async def bootstrap(
    session_maker: async_sessionmaker[AsyncSession], box: SecretBox, server: DevnetServer
) -> tuple[str, bool, bool]:
    async with TronGateway([server.url], timeout_s=5) as chain, DevnetControl(server.url) as dev:
        dropped = await drop_stale_checkpoint(session_maker, chain)
        pool = await ensure_demo_pool(session_maker, box, chain, dev, stake_trx=1_000_000)
        account = await chain.get_account(pool.address)
    assert account is not None and account.frozen_energy_sun == 1_000_000 * TRX
    return pool.address, pool.created, dropped


async def test_bootstrap_is_idempotent_across_new_chains(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    box = SecretBox([generate_key()])
    async with DevnetServer(port=0, block_interval_ms=50) as first:
        assert await probe(first.url) is not None
        address, created, dropped = await bootstrap(session_maker, box, first)
        assert created and not dropped
        again, created, _ = await bootstrap(session_maker, box, first)  # same chain: no-op
        assert (again, created) == (address, False)
        first.produce(30)
        head = first.chain.head
        async with session_maker() as s, s.begin():
            s.add(
                ScannerCheckpoint(
                    name="main", block_number=head.number, block_id=head.block_id.hex()
                )
            )
        async with TronGateway([first.url]) as chain:
            assert not await drop_stale_checkpoint(session_maker, chain)  # the chain has it
    async with DevnetServer(port=0, block_interval_ms=50) as second:  # a new chain
        restarted, created, dropped = await bootstrap(session_maker, box, second)
        assert (restarted, created, dropped) == (address, False, True)
    async with session_maker() as s:
        pools = (
            await s.execute(select(func.count()).where(EnergyPool.name == DEMO_POOL_NAME))
        ).scalar_one()
        assert pools == 1
        assert await s.get(ScannerCheckpoint, "main") is None


async def test_probe_says_no_for_a_non_devnet() -> None:
    assert await probe("http://127.0.0.1:9") is None
