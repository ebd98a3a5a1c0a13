"""No unit of work keeps SQLite's single write lock while it waits on the node.

Each test holds the node's answer back (a node that hangs), and while the work waits on it,
another writer - one that gives up after 0.3 s - must get in. Before `release_write_lock`, a
node that did not answer held every other writer of the process back for its whole timeout.
PostgreSQL runs the same tests (a transaction holds only the rows it wrote there)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from cashews import Cache
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flash.conftest import add_pool
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, new_key
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.crypto import SecretBox
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.models.energy_pool import EnergyPool
from tronrent.order.recipient import RecipientCheck
from tronrent.pool.service import pool as pool_service
from tronrent.pool.tasks import sync_all

Maker = async_sessionmaker[AsyncSession]


class HangingNode:
    """The real gateway, whose account reads wait until the test lets them through."""

    def __init__(self, real: TronGateway) -> None:
        self.real = real
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def get_account(self, address: str) -> Any:
        self.asked.set()
        await self.answer.wait()
        return await self.real.get_account(address)

    async def trc20_balance(self, contract: str, address: str) -> int:
        self.asked.set()
        await self.answer.wait()
        return int(await self.real.trc20_balance(contract, address))


@pytest.fixture
async def impatient(database_url: str) -> AsyncIterator[Maker]:
    """Sessions that give up on a held SQLite write lock after 0.3 s."""
    args = {"connect_args": {"timeout": 0.3}} if database_url.startswith("sqlite") else {}
    engine = create_engine(database_url, **args)
    yield create_session_maker(engine)
    await engine.dispose()


async def another_writer_gets_in(impatient: Maker, pool_id: uuid.UUID) -> None:
    async with impatient() as s, s.begin():
        await s.execute(
            update(EnergyPool).where(EnergyPool.id == pool_id).values(name="renamed meanwhile")
        )


async def while_the_node_hangs(node: HangingNode, work: Any, then: Any) -> Any:
    task = asyncio.create_task(work)
    try:
        await asyncio.wait_for(node.asked.wait(), 30)
        await then()
    finally:
        node.answer.set()
    return await task


@dataclass
class Env:
    session_maker: Maker
    impatient: Maker
    devnet: DevnetServer
    gateway: TronGateway
    box: SecretBox


@pytest.fixture
def env(
    session_maker: Maker,
    impatient: Maker,
    devnet: DevnetServer,
    gateway: TronGateway,
    box: SecretBox,
) -> Env:
    return Env(session_maker, impatient, devnet, gateway, box)


async def test_pool_sync(env: Env) -> None:
    session_maker, impatient, gateway, box = env.session_maker, env.impatient, env.gateway, env.box
    _, pool = await add_pool(session_maker, env.devnet, gateway, box)
    node = HangingNode(gateway)

    async def sync() -> Any:
        async with session_maker() as s:
            results = await sync_all(s, node, box=box)  # type: ignore[arg-type]
            await s.commit()
        return results

    [(synced, _)] = await while_the_node_hangs(
        node, sync(), lambda: another_writer_gets_in(impatient, pool.id)
    )
    assert synced.id == pool.id and synced.last_synced_at is not None


async def test_adding_a_pool(env: Env) -> None:
    session_maker, impatient, gateway, box = env.session_maker, env.impatient, env.gateway, env.box
    devnet = env.devnet
    _, other = await add_pool(session_maker, devnet, gateway, box)
    node = HangingNode(gateway)
    key = funded_key(devnet.chain, 1_000_000_000)

    async def add() -> EnergyPool:
        async with session_maker() as s:
            await pool_service.get_by_address(s, other.tron_address)  # a read first
            added = await pool_service.add(
                s,
                box,
                chain=node,  # type: ignore[arg-type]
                private_key=key.hex(),
                force=True,
            )
            await s.commit()
        return added

    added = await while_the_node_hangs(
        node, add(), lambda: another_writer_gets_in(impatient, other.id)
    )
    assert added.tron_address == key.address_base58


async def test_the_recipient_check_of_an_order(env: Env) -> None:
    session_maker, impatient, gateway, box = env.session_maker, env.impatient, env.gateway, env.box
    _, pool = await add_pool(session_maker, env.devnet, gateway, box)
    node = HangingNode(gateway)
    cache = Cache()
    cache.setup("mem://")
    check = RecipientCheck(node, cache)  # type: ignore[arg-type]

    async def create() -> Any:
        async with session_maker() as s:
            await pool_service.list_pools(s)  # the request has read
            state = await check.within(s).check(new_key().address_base58, activates=True)
            await s.commit()
        return state

    state = await while_the_node_hangs(
        node, create(), lambda: another_writer_gets_in(impatient, pool.id)
    )
    assert state.activated is False and state.activation_fee_sun > 0
