"""Flash rental on the devnet with fast blocks: pools, engine, customers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.flash.engine import FlashEngine
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.db import read_only
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.order import Order, OrderStatus
from tronrent.order.runtime import FlashRuntime
from tronrent.pool.service import pool as pool_service
from tronrent.pool.tasks import sync_pool
from tronrent.scanner.service import ScannerConfig

BLOCK_MS = 100
TRX = 1_000_000


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    async with DevnetServer(port=0, block_interval_ms=BLOCK_MS) as server:
        yield server


@pytest.fixture
async def gateway(devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([devnet.url], timeout_s=5, backoff_base_s=0.02) as gw:
        yield gw


@pytest.fixture
def box_key() -> str:
    return generate_key()


@pytest.fixture
def box(box_key: str) -> SecretBox:
    return SecretBox([box_key])


def stake(devnet: DevnetServer, key: PrivateKey, trx: int) -> None:
    submit(
        devnet.chain,
        key,
        "FreezeBalanceV2Contract",
        {"frozen_balance": trx * TRX, "resource": "ENERGY"},
    )


def send_trx(devnet: DevnetServer, key: PrivateKey, to: str, amount_sun: int) -> str:
    from tronproto.address import to_hex

    rec = submit(
        devnet.chain, key, "TransferContract", {"to_address": to_hex(to), "amount": amount_sun}
    )
    return str(rec.txid.hex() if isinstance(rec.txid, bytes) else rec.txid)


async def add_pool(
    session_maker: async_sessionmaker[AsyncSession],
    devnet: DevnetServer,
    gateway: TronGateway,
    box: SecretBox,
    *,
    stake_trx: int = 300_000,
    balance_trx: int = 1_000,
    **kw: Any,
) -> tuple[PrivateKey, EnergyPool]:
    key = funded_key(devnet.chain, (stake_trx + balance_trx) * TRX)
    if stake_trx:
        stake(devnet, key, stake_trx)
    devnet.node.produce()
    async with session_maker() as s:
        pool = await pool_service.add(
            s, box, chain=gateway, check=stake_trx > 0, private_key=key.hex(), **kw
        )
        await sync_pool(gateway, pool)
        await s.commit()
    return key, pool


@dataclass
class Flash:
    devnet: DevnetServer
    gateway: TronGateway
    session_maker: async_sessionmaker[AsyncSession]
    box: SecretBox
    engine: FlashEngine
    pool_key: PrivateKey
    pool: EnergyPool
    box_key: str = ""

    @property
    def address(self) -> str:
        return self.pool.tron_address

    async def wait_order(
        self,
        pred: Callable[[Order], bool],
        *,
        sender: str | None = None,
        order_id: str | None = None,
        wait_s: float = 15.0,
    ) -> Order:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        from sqlalchemy import select

        while True:
            async with self.session_maker() as s:
                await read_only(s)  # a poll must not take SQLite's write lock from the engine
                stmt = select(Order)
                if order_id:
                    stmt = stmt.where(Order.id == order_id)
                if sender:
                    stmt = stmt.where(Order.from_address == sender)
                orders = (await s.execute(stmt)).scalars().all()
            for o in orders:
                if pred(o):
                    return o
            if loop.time() > deadline:
                raise AssertionError(
                    f"timeout; orders: {[(o.id, o.status, o.status_reason) for o in orders]}"
                    f"\n{await self.debug()}"
                )
            await asyncio.sleep(0.05)

    async def debug(self) -> str:
        from sqlalchemy import select

        from tronrent.models.job_failure import JobFailure
        from tronrent.models.payment import Payment

        async with self.session_maker() as s:
            pays = (await s.execute(select(Payment))).scalars().all()
            fails = (await s.execute(select(JobFailure))).scalars().all()
        return (
            "payments: "
            + repr([(p.tx_hash[:8], p.amount_units, p.status, p.note) for p in pays])
            + "\nfailures: "
            + repr([(j.job_name, j.error) for j in fails])
        )


FlashFactory = Callable[..., Awaitable[Flash]]


@pytest.fixture
async def flash(
    devnet: DevnetServer,
    gateway: TronGateway,
    session_maker: async_sessionmaker[AsyncSession],
    box: SecretBox,
    box_key: str,
) -> AsyncIterator[FlashFactory]:
    engines: list[FlashEngine] = []
    made: list[Flash] = []

    async def start(
        *,
        rental_s: float = 600.0,
        pool_kw: dict[str, Any] | None = None,
        scanner_kw: dict[str, Any] | None = None,
        **rt_kw: Any,
    ) -> Flash:
        key, pool = await add_pool(session_maker, devnet, gateway, box, **(pool_kw or {}))
        rt = FlashRuntime(
            payment_address=pool.tron_address,
            block_interval_ms=BLOCK_MS,
            confirm_timeout_s=3.0,
            rental_duration_s=rental_s,
            **rt_kw,
        )
        engine = FlashEngine(
            session_maker=session_maker,
            chain=gateway,
            box=box,
            rt=rt,
            scanner_config=ScannerConfig(
                block_interval_s=BLOCK_MS / 1000,
                fixed_addresses=frozenset({pool.tron_address}),
                **(scanner_kw or {}),
            ),
            periodic_speedup=5.0,
        )
        await engine.start()
        engines.append(engine)
        made.append(Flash(devnet, gateway, session_maker, box, engine, key, pool, box_key))
        return made[-1]

    yield start
    # and the engines `restart_engine` put in their place (stopping one twice is harmless)
    for e in [*engines, *(f.engine for f in made if f.engine not in engines)]:
        await e.stop()


def active(o: Order) -> bool:
    return o.status is OrderStatus.ACTIVE


def resource_contracts_to(f: Flash, customer: PrivateKey) -> list[str]:
    """Contract types of the (Un)DelegateResource transactions to ``customer``, in chain order."""
    to = bytes.fromhex(customer.address_hex)
    return [
        tx.contract_type
        for b in f.devnet.chain.blocks
        for tx in b.txs
        if tx.to == to and "Resource" in tx.contract_type
    ]


async def restart_engine(f: Flash, **overrides: Any) -> FlashEngine:
    """Stop the flash engine and start another on the same database, chain and settings, with
    ``overrides`` (FlashEngine keyword arguments); the ``flash`` fixture stops it at the end
    of the test (the caller may stop it sooner)."""
    old = f.engine
    await old.stop()
    f.engine = FlashEngine(
        session_maker=old.session_maker,
        chain=old.chain,
        box=old.box,
        rt=old.rt,
        scanner_config=old.scanner_config,
        **overrides,
    )
    await f.engine.start()
    return f.engine


@pytest.fixture
async def shop(
    devnet: DevnetServer, gateway: TronGateway, database_url: str, tmp_path: Any
) -> AsyncIterator[Any]:
    """The HTTP API on the devnet with hour-long rentals (count packages, auto top-ups)."""
    from .test_endpoints import open_api  # it imports this module

    async with open_api(
        devnet, gateway, database_url, tmp_path, energy_flash_rental_seconds=3600
    ) as opened:
        yield opened
