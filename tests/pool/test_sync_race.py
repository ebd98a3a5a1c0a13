"""A pool sync never overwrites what a delegation's confirm wrote during its chain read (devnet,
both databases).

The sync reads the node with no write lock held, then writes. A node wrapper runs
``pool_service.confirm`` (or ``reserve``) in another session while the sync waits on the
account-resource read, deterministically. Before the fix, the chain's figure (read before the
delegation landed) overwrote the confirm's ``available -= x``: with available 1000, reserved
300 and the chain at 1050, the pool showed 1050 free where only 750 were left.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flash.conftest import add_pool
from trondevnet.server import DevnetServer
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.adapters.tron.port import ChainPort
from tronrent.kit.crypto import SecretBox
from tronrent.models.energy_pool import EnergyPool
from tronrent.pool.service import pool as pool_service
from tronrent.pool.staking import Staking
from tronrent.pool.tasks import SyncState, sync_all

Maker = async_sessionmaker[AsyncSession]
Hook = Callable[[], Awaitable[None]]


class MovingNode:
    """The real gateway; the first account-resource read runs ``hook`` (another session's
    bookkeeping) before the chain's answer is returned - the answer read before it ran."""

    def __init__(self, real: TronGateway, hook: Hook) -> None:
        self.real = real
        self.hook: Hook | None = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def get_account_resource(self, address: str) -> Any:
        answer = await self.real.get_account_resource(address)
        hook, self.hook = self.hook, None
        if hook is not None:
            await hook()
        return answer


async def reload(maker: Maker, pool_id: uuid.UUID) -> EnergyPool:
    async with maker() as s:
        pool = await s.get(EnergyPool, pool_id)
        assert pool is not None
        return pool


async def prepare(
    maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
) -> tuple[EnergyPool, int]:
    """A synced pool set to the reviewer's case: available 50 below the chain's figure, 300
    reserved (a delegation about to land); returns it and the chain's available figure."""
    _, pool = await add_pool(maker, devnet, gateway, box)
    chain_available = pool.available_energy
    assert chain_available > 1000 and pool.delegated_energy == 0
    async with maker() as s:
        await s.execute(
            update(EnergyPool)
            .where(EnergyPool.id == pool.id)
            .values(available_energy=chain_available - 50, reserved_energy=300)
        )
        await s.commit()
    return pool, chain_available


def confirming(maker: Maker, pool_id: uuid.UUID, energy: int) -> Hook:
    async def hook() -> None:
        async with maker() as s:
            await pool_service.confirm(s, pool_id, energy)
            await s.commit()

    return hook


async def sync(maker: Maker, chain: Any) -> SyncState:
    async with maker() as s:
        [(_, outcome)] = await sync_all(s, cast(ChainPort, chain))
        await s.commit()
    return outcome.state


class TestSyncDuringConfirm:
    async def test_a_confirm_during_the_read_is_kept_and_the_next_sync_writes_the_chain(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        pool, chain = await prepare(session_maker, devnet, gateway, box)
        node = MovingNode(gateway, confirming(session_maker, pool.id, 300))

        async with session_maker() as s:
            [(synced, outcome)] = await sync_all(s, cast(ChainPort, node))
            await s.commit()
        assert node.hook is None  # the confirm ran during the read
        assert outcome.state is SyncState.OK and outcome.deferred
        assert synced.available_energy == chain - 350  # what the confirm left, in memory too

        after = await reload(session_maker, pool.id)
        assert (after.available_energy, after.reserved_energy, after.delegated_energy) == (
            chain - 350,
            0,
            300,
        )
        # free capacity: never more than the chain has once the 300 delegated land
        assert after.available_energy - after.reserved_energy <= chain - 300
        assert after.last_synced_at == pool.last_synced_at  # the figures were not written

        # nothing in between: the chain's figures, as before (the delegation never landed here)
        assert await sync(session_maker, gateway) is SyncState.OK
        again = await reload(session_maker, pool.id)
        assert (again.available_energy, again.delegated_energy) == (chain, 0)
        assert again.reserved_energy == 0 and again.total_energy == chain
        assert again.last_synced_at is not None and again.last_synced_at > after.last_synced_at

    async def test_a_reserve_during_the_read_does_not_hold_the_figures_back(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        pool, chain = await prepare(session_maker, devnet, gateway, box)

        async def reserve() -> None:
            async with session_maker() as s:
                assert await pool_service.reserve(s, pool.id, 100)
                await s.commit()

        assert await sync(session_maker, MovingNode(gateway, reserve)) is SyncState.OK
        after = await reload(session_maker, pool.id)
        # the sync never writes reserved_energy: the chain's figure, the reservation kept
        assert (after.available_energy, after.reserved_energy) == (chain, 400)

    async def test_staking_sync_keeps_a_confirm_during_the_read(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        pool, chain = await prepare(session_maker, devnet, gateway, box)
        node = MovingNode(gateway, confirming(session_maker, pool.id, 300))
        staking = Staking(session_maker, cast(ChainPort, node), box, wait_s=1.0)

        await staking._sync(pool.id)
        assert node.hook is None
        after = await reload(session_maker, pool.id)
        assert (after.available_energy, after.reserved_energy, after.delegated_energy) == (
            chain - 350,
            0,
            300,
        )

        await Staking(session_maker, gateway, box)._sync(pool.id)
        again = await reload(session_maker, pool.id)
        assert (again.available_energy, again.delegated_energy) == (chain, 0)
