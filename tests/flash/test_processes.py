"""Crash and concurrency across real processes: SIGKILL mid-delegation, two allocators."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select

from trondevnet.node import FaultRule
from trondevnet.testing import funded_key
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.energy_transaction import EnergyTransaction, EnergyTransactionStatus
from tronrent.models.order import OrderStatus
from tronrent.models.scanner_checkpoint import ScannerCheckpoint

from .conftest import BLOCK_MS, TRX, Flash, FlashFactory, send_trx
from .test_exactly_once import delegations_on_chain, wait_all

PROC = Path(__file__).with_name("_worker_proc.py")
CONFIRMED = EnergyTransactionStatus.CONFIRMED


async def spawn(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROC),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=None if os.environ.get("TEST_WORKER_STDERR") else asyncio.subprocess.DEVNULL,
    )


async def hand_over_to_worker(
    f: Flash,
    database_url: str,
    before_spawn: Callable[[], Awaitable[None]] | None = None,
    env: dict[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """Stop the in-process engine and start a worker process (the whole engine) in its place,
    with broadcasts slowed down so that a kill lands after a transaction is stored and before
    it is known to be sent; returns once the worker is ready. ``before_spawn``: runs while no
    engine runs (work made then is the new worker's first)."""
    await f.engine.stop()
    async with f.session_maker() as s:
        # release the in-process scanner's lease so the subprocess can take over
        for row in (await s.execute(select(ScannerCheckpoint))).scalars():
            row.leader_id = None
        await s.commit()
    if before_spawn is not None:
        await before_spawn()
    f.devnet.node.set_fault(FaultRule(path="/wallet/broadcasttransaction", latency_ms=1500))
    proc = await spawn(
        {
            "FLASH_DB_URL": database_url,
            "FLASH_NODE_URL": f.devnet.url,
            "FLASH_SECRET_KEY": f.box_key,
            "FLASH_ADDRESS": f.address,
            "FLASH_BLOCK_MS": str(BLOCK_MS),
            **(env or {}),
        }
    )
    assert proc.stdout is not None
    # generous: a loaded machine may take a minute just to import the engine
    assert (await asyncio.wait_for(proc.stdout.readline(), 180)).strip() == b"ready"
    return proc


async def wait_stored(
    f: Flash,
    purpose: ChainTxPurpose | None = None,
    *,
    until: Callable[[], object] = lambda: True,
    wait_s: float = 30,
) -> None:
    """Until a transaction (of ``purpose``) is stored and ``until()`` holds: the moment for a
    kill."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    query = select(ChainTransaction.id)
    if purpose is not None:
        query = query.where(ChainTransaction.purpose == purpose)
    while True:
        async with f.session_maker() as s:
            stored = (await s.execute(query.limit(1))).scalar_one_or_none()
        if stored is not None and until():
            return
        assert loop.time() < deadline, await f.debug()
        await asyncio.sleep(0.02)


class TestSigkill:
    async def test_killed_mid_delegation_then_restarted_delegates_once(
        self, flash: FlashFactory, database_url: str
    ) -> None:
        f = await flash()
        proc = await hand_over_to_worker(f, database_url)  # the subprocess is the worker now
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        await wait_stored(f, wait_s=20)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        f.devnet.node.clear_faults()
        await f.engine.start()  # restart: the sweeper finds the stored, unconfirmed delegation
        await wait_all(f, 1, OrderStatus.ACTIVE, wait_s=60)
        assert delegations_on_chain(f) == {customer.address: 1}
        # seed 001's record survived the kill with its transaction: one row per stored
        # delegation, confirmed with it (failed if one expired unsent and was rebuilt)
        async with f.session_maker() as s:
            recorded = dict(
                (await s.execute(select(EnergyTransaction.tx_hash, EnergyTransaction.status))).all()
            )
            stored = dict(
                (
                    await s.execute(
                        select(ChainTransaction.txid, ChainTransaction.status).where(
                            ChainTransaction.purpose == ChainTxPurpose.DELEGATE
                        )
                    )
                ).all()
            )
        assert set(recorded) == set(stored)
        assert list(stored.values()).count(ChainTxStatus.CONFIRMED) == 1
        for txid, status in stored.items():
            confirmed = status is ChainTxStatus.CONFIRMED
            assert recorded[txid] is (CONFIRMED if confirmed else EnergyTransactionStatus.FAILED)


class TestTwoAllocators:
    async def test_no_double_allocation_across_processes(
        self, flash: FlashFactory, database_url: str
    ) -> None:
        f = await flash(pool_kw={"stake_trx": 10_000})
        await f.engine.stop()
        async with f.session_maker() as s:
            pool = (await s.execute(select(EnergyPool))).scalar_one()
        capacity = pool.available_energy - pool.reserved_energy
        unit = capacity // 25  # 25 fit; two processes try 20 each
        env = {
            "FLASH_DB_URL": database_url,
            "FLASH_RESERVE_POOL_ID": str(pool.id),
            "FLASH_RESERVE_ENERGY": str(unit),
            "FLASH_RESERVE_TIMES": "20",
        }
        procs = [await spawn(env) for _ in range(2)]
        outs = [await asyncio.wait_for(p.communicate(), 60) for p in procs]
        granted = sum(int(o[0].strip()) for o in outs)
        assert granted == 25
        async with f.session_maker() as s:
            pool = (await s.execute(select(EnergyPool))).scalar_one()
        assert pool.reserved_energy == 25 * unit <= pool.available_energy
