"""Reclaims in batches: many orders undelegated with a fixed number of statements and no lock
lookups on the node, confirmed by the scanner; a rejected undelegation goes back to success;
a failing batch is split into one job per order; a worker killed mid-reclaim undelegates once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from trondevnet.testing import funded_key, submit
from tronproto.keys import PrivateKey
from tronrent.delegation.flows import FlowDeps, delegation
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.energy_transaction import (
    EnergyTransaction,
    EnergyTransactionStatus,
    EnergyTransactionType,
)
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus
from tronrent.scanner.service import BlockScanner
from tronrent.worker import PendingJob, Retry, get_actor, job_scope

from .conftest import (
    TRX,
    Flash,
    FlashFactory,
    resource_contracts_to,
    restart_engine,
    send_trx,
)
from .test_exactly_once import wait_all
from .test_processes import hand_over_to_worker, wait_stored

RECLAIM_JOB = "delegation.reclaim_order"
CONFIRMED = EnergyTransactionStatus.CONFIRMED


@asynccontextmanager
async def without_sweeper(f: Flash) -> AsyncIterator[None]:
    """The flash engine without its periodic jobs: nothing reclaims unless the test asks."""
    await restart_engine(f, run_periodic_jobs=False)
    try:
        yield
    finally:
        await f.engine.stop()


async def pay(f: Flash, n: int) -> list[PrivateKey]:
    """``n`` walk-in customers, each with an active order."""
    customers = [funded_key(f.devnet.chain, 100 * TRX) for _ in range(n)]
    for c in customers:
        send_trx(f.devnet, c, f.address, 3 * TRX)
    await wait_all(f, n, OrderStatus.ACTIVE)
    return customers


async def order_ids(f: Flash) -> list[str]:
    async with f.session_maker() as s:
        return list((await s.execute(select(Order.id).order_by(Order.id))).scalars())


async def wait_due(f: Flash) -> None:
    """Until every delegation's rental (and so its chain lock) is over."""
    async with f.session_maker() as s:
        last = (await s.execute(select(func.max(EnergyDelegation.expires_at)))).scalar_one()
    assert last is not None
    await asyncio.sleep(max(0.0, (last - utcnow()).total_seconds()) + 0.2)


def deps(f: Flash) -> FlowDeps:
    return FlowDeps(f.session_maker, f.gateway, f.box, f.engine.rt)


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    counted: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counted.append(statement)  # an executemany is one call: counted once

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


def collect(jobs: list[PendingJob]) -> Callable[[PendingJob], Awaitable[None]]:
    """A job sender that keeps the jobs in ``jobs`` (nothing runs them)."""

    async def send(job: PendingJob) -> None:
        jobs.append(job)

    return send


class TestBatch:
    async def test_thirty_orders_reclaimed_in_batches_confirmed_by_the_scanner(
        self, flash: FlashFactory, engine: AsyncEngine
    ) -> None:
        f = await flash(rental_s=2.0, pool_kw={"stake_trx": 800_000})  # room for 30 orders
        async with without_sweeper(f):
            customers = await pay(f, 30)
        ids = await order_ids(f)
        await wait_due(f)
        d = deps(f)
        f.devnet.node.counters.clear()
        jobs: list[PendingJob] = []
        sizes: dict[int, int] = {}
        for batch in (ids[:5], ids[5:]):
            with counting(engine) as counted:
                async with job_scope(collect(jobs)):
                    states = await delegation.reclaim_orders(d, batch)
            assert states == dict.fromkeys(batch, "broadcast")
            sizes[len(batch)] = len(counted)
        # lock orders, delegations, newer delegations on the same pairs, orders updated, events
        # (begin); lock, delegations, live undelegations, pools, delegations updated, stored,
        # energy_transactions (store); stored rows, broadcast recorded (deliver); lock,
        # delegations (end): the same for 5 orders and for 25
        assert sizes[25] == sizes[5], sizes
        assert sizes[25] <= 21, sizes  # 16 on PostgreSQL; SQLite counts its 5 BEGINs too
        assert jobs == []
        requests = dict(f.devnet.node.counters)
        # built and signed locally, broadcast once each, no lock lookup (each delegation's own
        # lock is the only one on its pool and receiver), no polling for the block; one head
        # block per batch (built from, and the expiry verdict of its broadcasts however long
        # they take), the second batch's maybe still cached from the first's
        assert requests.get("/wallet/broadcasttransaction") == 30, requests
        assert 1 <= requests.get("/wallet/getnowblock", 0) <= 2, requests
        assert set(requests) == {"/wallet/broadcasttransaction", "/wallet/getnowblock"}, requests

        # the scanner confirms the undelegations in the blocks it reads: one reclaim job per
        # block holding some of ours, which completes their orders with no node request
        assert f.engine.scanner_config is not None
        scanner = BlockScanner(f.gateway, f.session_maker, f.engine.scanner_config)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while sorted(x for j in jobs for x in j.args) != ids:
            assert loop.time() < deadline, jobs
            async with job_scope(collect(jobs)):
                await scanner.poll()
            await asyncio.sleep(0.05)
        await scanner.release()
        assert {j.name for j in jobs} == {RECLAIM_JOB}
        async with f.session_maker() as s:
            blocks = set(
                (
                    await s.execute(
                        select(ChainTransaction.block_number).where(
                            ChainTransaction.purpose == ChainTxPurpose.UNDELEGATE,
                            ChainTransaction.status == ChainTxStatus.CONFIRMED,
                        )
                    )
                ).scalars()
            )
        assert len(jobs) == len(blocks)
        f.devnet.node.counters.clear()
        for job in jobs:
            with counting(engine) as counted:
                async with job_scope(collect([])):
                    states = await delegation.reclaim_orders(d, [str(x) for x in job.args])
            assert set(states.values()) == {OrderStatus.COMPLETED.value}
            # 11 on PostgreSQL (one of them the energy_transactions UPDATE), + 4 BEGINs on SQLite
            assert len(counted) <= 15, counted
        assert dict(f.devnet.node.counters) == {}

        async with f.session_maker() as s:
            ds = (await s.execute(select(EnergyDelegation))).scalars().all()
            orders = (await s.execute(select(Order))).scalars().all()
            pool = (await s.execute(select(EnergyPool))).scalar_one()
            events = (
                await s.execute(select(NotificationOutbox.order_id, NotificationOutbox.event_type))
            ).all()
        assert {x.status for x in ds} == {DelegationStatus.EXPIRED}
        assert all(x.reclaimed_at is not None for x in ds)
        async with f.session_maker() as s:
            recorded = (
                await s.execute(
                    select(
                        EnergyTransaction.transaction_type,
                        EnergyTransaction.tx_hash,
                        EnergyTransaction.status,
                    ).where(EnergyTransaction.block_number.is_not(None))
                )
            ).all()
        # seed 001's record: one confirmed row per delegation and per undelegation, in a block
        assert sorted(recorded) == sorted(
            [(EnergyTransactionType.DELEGATE, x.tx_hash, CONFIRMED) for x in ds]
            + [(EnergyTransactionType.UNDELEGATE, x.undelegate_tx_hash, CONFIRMED) for x in ds]
        )
        assert {o.status for o in orders} == {OrderStatus.COMPLETED}
        assert all(o.completed_at is not None for o in orders)
        assert pool.delegated_energy == 0
        for oid in ids:
            assert (oid, "rental_ended") in events
            # a 2 s rental is shorter than RENTAL_ENDING_NOTICE_SECONDS: no "ends soon" notice
            assert (oid, "rental_ending") not in events
        for c in customers:
            assert f.devnet.chain.energy_limit(f.devnet.chain.accounts[c.address]) == 0
        kinds = [tx.contract_type for b in f.devnet.chain.blocks for tx in b.txs]
        assert kinds.count("UnDelegateResourceContract") == 30


class TestRejected:
    async def test_a_rejected_undelegation_goes_back_to_success_and_is_retried_alone(
        self, flash: FlashFactory
    ) -> None:
        f = await flash(rental_s=1.0)
        async with without_sweeper(f):
            locked, free = await pay(f, 2)
            # the pool delegates to one receiver again, with a lock the platform does not know
            # about: the chain keeps the combined amount locked past that order's rental
            submit(
                f.devnet.chain,
                f.pool_key,
                "DelegateResourceContract",
                {
                    "receiver_address": locked.address_hex,
                    "balance": 10 * TRX,
                    "resource": "ENERGY",
                    "lock": True,
                    # 15 s of 100 ms blocks: still locked when the sweep comes, however
                    # slow the machine (4 s was not always enough under load)
                    "lock_period": 150,
                },
            )
            async with f.session_maker() as s:
                by_target = dict((await s.execute(select(Order.target_address, Order.id))).all())
            a, b = by_target[locked.address_base58], by_target[free.address_base58]
            await wait_due(f)
            d = deps(f)

            jobs: list[PendingJob] = []
            async with job_scope(collect(jobs)):
                states = await delegation.reclaim_orders(d, [a, b])
            assert states == {a: "again", b: "broadcast"}
            assert jobs == [PendingJob(RECLAIM_JOB, (a,))]  # the rest of the batch went on
            async with f.session_maker() as s:
                [x] = (
                    await s.execute(select(EnergyDelegation).where(EnergyDelegation.order_id == a))
                ).scalars()
                [tx] = (
                    await s.execute(
                        select(ChainTransaction).where(
                            ChainTransaction.order_id == a,
                            ChainTransaction.purpose == ChainTxPurpose.UNDELEGATE,
                        )
                    )
                ).scalars()
            assert x.status is DelegationStatus.SUCCESS
            assert "unlock_balance" in (x.error_message or ""), x.error_message
            assert tx.status is ChainTxStatus.FAILED and tx.txid == x.undelegate_tx_hash

            with pytest.raises(Retry):  # alone in its job: the job retries it
                async with job_scope(collect(jobs)):
                    await delegation.reclaim_orders(d, [a])
            # once the chain's lock is over, a new undelegation goes through
            to = bytes.fromhex(locked.address_hex)
            expires_ms = max(
                rec.expire_energy
                for (_, receiver, is_locked), rec in f.devnet.chain.delegations.items()
                if is_locked and receiver == to
            )
            for _ in range(300):
                if f.devnet.chain.head.timestamp > expires_ms:
                    break
                await asyncio.sleep(0.2)
            async with job_scope(collect(jobs)):
                assert await delegation.reclaim_order(d, a) == "broadcast"
            for oid in (a, b):  # the scanner sees both and completes the orders
                await f.wait_order(
                    lambda o: o.status is OrderStatus.COMPLETED, order_id=oid, wait_s=10
                )
        async with f.session_maker() as s:
            txs = (
                (
                    await s.execute(
                        select(ChainTransaction.status).where(
                            ChainTransaction.order_id == a,
                            ChainTransaction.purpose == ChainTxPurpose.UNDELEGATE,
                        )
                    )
                )
                .scalars()
                .all()
            )
            x = (
                await s.execute(select(EnergyDelegation).where(EnergyDelegation.order_id == a))
            ).scalar_one()
            recorded = (
                (
                    await s.execute(
                        select(EnergyTransaction)
                        .where(
                            EnergyTransaction.order_id == a,
                            EnergyTransaction.transaction_type == EnergyTransactionType.UNDELEGATE,
                        )
                        .order_by(EnergyTransaction.created_at)
                    )
                )
                .scalars()
                .all()
            )
        assert txs.count(ChainTxStatus.CONFIRMED) == 1
        # seed 001's record, one row per undelegation: the refused ones failed (with why), the
        # last one confirmed in its block
        *refused, last = recorded
        assert len(recorded) == len(txs) and refused and refused[0].tx_hash == tx.txid
        for r in refused:
            assert r.status is EnergyTransactionStatus.FAILED and r.block_number is None
            assert "unlock_balance" in (r.error_message or ""), r.error_message
        assert last.status is CONFIRMED and last.block_number
        assert last.tx_hash == x.undelegate_tx_hash
        assert x.status is DelegationStatus.EXPIRED
        to = bytes.fromhex(locked.address_hex)
        undelegated = [
            tx
            for blk in f.devnet.chain.blocks
            for tx in blk.txs
            if tx.contract_type == "UnDelegateResourceContract" and tx.to == to
        ]
        assert len(undelegated) == 1


class TestJob:
    async def test_a_failing_batch_is_split_so_one_order_holds_back_no_other(
        self, flash: FlashFactory, engine: AsyncEngine
    ) -> None:
        """The database refuses one order's row (an injected fault): the batch job enqueues
        each order alone; the others then go through, the bad one fails on its own."""
        f = await flash(rental_s=1.0)
        async with without_sweeper(f):
            await pay(f, 3)
            ids = await order_ids(f)
            poison = ids[1]
            await wait_due(f)

            def refuse(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
                rows = params if isinstance(params, list) else [params]
                if statement.startswith("UPDATE orders") and any(
                    poison in (r.values() if isinstance(r, dict) else r) for r in rows
                ):
                    raise RuntimeError("row refused")

            job = get_actor(RECLAIM_JOB).fn  # the engine's worker context is installed
            sent: list[PendingJob] = []
            event.listen(engine.sync_engine, "before_cursor_execute", refuse)
            try:
                async with job_scope(collect(sent)):
                    await job(*ids)
                assert sent == [PendingJob(RECLAIM_JOB, (oid,)) for oid in ids]
                for oid in ids:
                    async with job_scope(collect(sent)):
                        if oid == poison:
                            with pytest.raises(Exception, match="row refused"):
                                await job(oid)
                        else:
                            await job(oid)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", refuse)
            for oid in (ids[0], ids[2]):  # the scanner confirms them: completed
                await f.wait_order(
                    lambda o: o.status is OrderStatus.COMPLETED, order_id=oid, wait_s=10
                )
            async with f.session_maker() as s:
                assert (await s.get(Order, poison)).status is OrderStatus.ACTIVE  # type: ignore[union-attr]
            async with job_scope(collect(sent)):
                await job(poison)  # the fault gone, it goes through on its own
            await f.wait_order(
                lambda o: o.status is OrderStatus.COMPLETED, order_id=poison, wait_s=10
            )


class TestSigkill:
    async def test_killed_mid_reclaim_then_restarted_undelegates_once(
        self, flash: FlashFactory, database_url: str
    ) -> None:
        f = await flash(rental_s=2.0)
        [customer] = await pay(f, 1)
        # the subprocess is the worker now: its sweeper starts the reclaim; the kill lands
        # after the undelegation is stored, before it is known to be sent (the node still
        # takes it in: it lands while nobody is running)
        proc = await hand_over_to_worker(f, database_url)
        try:
            await wait_stored(f, ChainTxPurpose.UNDELEGATE)
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        f.devnet.node.clear_faults()
        await f.engine.start()  # the scanner finds the stored undelegation in its block
        await wait_all(f, 1, OrderStatus.COMPLETED, wait_s=60)
        assert resource_contracts_to(f, customer) == [
            "DelegateResourceContract",
            "UnDelegateResourceContract",
        ]
        async with f.session_maker() as s:
            x = (await s.execute(select(EnergyDelegation))).scalar_one()
            txs = (await s.execute(select(ChainTransaction.status))).scalars().all()
        assert x.status is DelegationStatus.EXPIRED
        assert txs == [ChainTxStatus.CONFIRMED, ChainTxStatus.CONFIRMED]
