"""Scale-out: three real ``tronrent serve`` processes on one PostgreSQL database, one Redis
queue and the test's devnet - ``--role api`` (takes the orders), ``--role engine`` and
``--role engine --role bots`` (workers on the Redis queue, one leased scanner between them) -
under paid flash orders (created through the API process, and walk-in payments), with one engine
killed by SIGKILL mid-load: every paid order is delegated exactly once on chain, none is lost
(the other engine takes the scanner lease over; its sweeper re-drives what the dead one held)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tronpy import AsyncTron
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.providers.async_http import AsyncHTTPProvider

from subprocesses import clean_env, free_port, kill9, start_serve, stop, wait_ready
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronproto.address import to_hex
from tronproto.keys import PrivateKey
from tronrent.kit.crypto import generate_key
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

#: slower blocks than the in-process tests: three `serve` processes share the CPUs
BLOCK_MS = 300
TRX = 1_000_000
#: customers per wave: half order through the API process, half pay the flash address
WAVE = 8
#: delivery bound after the last payment: a job the killed engine had taken is re-driven by
#: the survivor's sweeper once the order looks stuck (the 60 s confirm timeout = 200 blocks)
BUDGET_BLOCKS = 400


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    async with DevnetServer(port=0, block_interval_ms=BLOCK_MS) as server:
        yield server


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The test Redis with no job left in the queue's streams, before and after."""
    url = os.environ["TEST_REDIS_URL"].strip()

    async def clear() -> None:
        async with Redis.from_url(url) as r:
            keys = [k async for k in r.scan_iter("tronrent:stream:*")]
            if keys:
                await r.delete(*keys)

    await clear()
    yield url
    await clear()


async def pay(url: str, key: PrivateKey, to: str, amount_sun: int) -> None:
    """A customer's wallet: a TRX transfer built, signed and broadcast by tronpy."""
    provider = AsyncHTTPProvider(url)
    provider.use_api_key = False
    async with AsyncTron(provider=provider) as tron:
        tx = await tron.trx.transfer(key.address_base58, to, amount_sun).build()
        await tx.sign(TronpyKey(bytes.fromhex(key.hex()))).broadcast()


async def order_through_api(http: httpx.AsyncClient, recipient: str) -> tuple[str, int]:
    """A flash order created by the API process: where to pay and how much (sun)."""
    r = await http.post(
        "/api/energy-flash/create-order", json={"recipientAddress": recipient, "chatId": 0}
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return data["paymentAddress"], int(Decimal(str(data["exampleAmount"])) * TRX)


async def count(
    session_maker: async_sessionmaker[AsyncSession], what: type[Order] | type[Payment]
) -> int:
    async with session_maker() as s:
        query = select(func.count()).select_from(what)
        if what is Order:
            query = query.where(Order.status == OrderStatus.ACTIVE)
        return int(await s.scalar(query) or 0)


def delegations(devnet: DevnetServer, receiver: str) -> int:
    raw = bytes.fromhex(to_hex(receiver))
    return sum(
        1
        for block in devnet.chain.blocks
        for tx in block.txs
        if tx.contract_type == "DelegateResourceContract" and tx.to == raw
    )


async def test_api_and_two_engines_deliver_once_with_an_engine_killed(
    devnet: DevnetServer,
    redis_url: str,
    database_url: str,
    session_maker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    env = clean_env(
        tmp_path,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TRON_NODE_URLS=devnet.url,
        SECRET_KEYS=generate_key(),
        JWT_SECRET=secrets.token_urlsafe(48),
        BLOCK_INTERVAL_MS=str(BLOCK_MS),
        RATE_LIMIT_PER_MINUTE="0",
        LOG_LEVEL="warning",
    )
    log = tmp_path / "serve.log"
    ports = [free_port() for _ in range(3)]
    roles = (["--role", "api"], ["--role", "engine"], ["--role", "engine", "--role", "bots"])
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # the API first: on a devnet it adds the demo pool (the flash address) once
        for port, args in zip(ports, roles, strict=True):
            processes.append(start_serve(port, env, log, *args))
            if len(processes) == 1:
                await wait_ready(port, processes[0])
        for port, process in zip(ports[1:], processes[1:], strict=True):
            await wait_ready(port, process)
        api, killed, survivor = processes
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30) as http:
            engine_only = await http.post(
                f"http://127.0.0.1:{ports[1]}/api/energy-flash/create-order", json={}
            )
            assert engine_only.status_code == 404  # an engine serves its probes only
            customers: list[PrivateKey] = []

            async def wave() -> None:
                keys = [funded_key(devnet.chain, 100 * TRX) for _ in range(WAVE)]
                customers.extend(keys)
                payments = []
                flash = ""
                for i, key in enumerate(keys):
                    if i % 2 == 0:  # the order's payment address is the flash address
                        flash, amount = await order_through_api(http, key.address_base58)
                    else:  # a walk-in: pays the flash address, the scanner opens its order
                        amount = 2 * TRX
                    payments.append(pay(devnet.url, key, flash, amount))
                await asyncio.gather(*payments)

            await wave()
            limit = devnet.chain.head.number + 100
            while await count(session_maker, Payment) < 2:  # mid-load: payments being handled
                assert devnet.chain.head.number < limit, log.read_text()[-3000:]
                await asyncio.sleep(0.05)
            kill9(killed)
            await wave()  # while one engine is dead
            assert api.poll() is None and survivor.poll() is None
        limit = devnet.chain.head.number + BUDGET_BLOCKS
        while await count(session_maker, Order) < len(customers):
            assert devnet.chain.head.number < limit, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
        for key in customers:
            assert delegations(devnet, key.address_base58) == 1, key.address_base58
        async with session_maker() as s:
            payers = (await s.execute(select(Payment.from_address))).scalars().all()
        assert sorted(payers) == sorted(k.address_base58 for k in customers)  # each once
    finally:
        for p in processes:
            stop(p, 15)
