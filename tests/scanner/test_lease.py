"""Scanner leadership on a real devnet and database: one leader at a time, a stale leader's
write is refused by the fence, and a standby takes over within 2 block intervals (counted in
devnet blocks) of the leader dying."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.address import to_hex
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.models.payment import Payment
from tronrent.models.scanner_checkpoint import ScannerCheckpoint
from tronrent.scanner.service import (
    LEASE_BLOCKS,
    BlockScanner,
    LeaseLost,
    ScannerConfig,
)
from tronrent.worker import PendingJob, job_scope

TRX = 1_000_000


def pay(devnet: DevnetServer, key: PrivateKey, to: str, amount: int) -> None:
    submit(devnet.chain, key, "TransferContract", {"to_address": to_hex(to), "amount": amount})
    if not devnet.produce_blocks:
        devnet.produce()


@dataclass
class Paused:
    """A block source that holds `get_blocks` until released: the leader is mid-batch."""

    inner: TronGateway
    fetching: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)

    async def get_blocks(self, start: int, end: int) -> Sequence[Mapping[str, Any]]:
        blocks = await self.inner.get_blocks(start, end)
        self.fetching.set()
        await self.go.wait()
        return blocks

    async def get_transaction_infos(self, block_number: int) -> Sequence[Mapping[str, Any]]:
        return await self.inner.get_transaction_infos(block_number)

    async def get_head_block_number(self) -> int:
        return await self.inner.get_head_block_number()


async def polled(scanner: BlockScanner) -> tuple[int, list[PendingJob]]:
    sent: list[PendingJob] = []

    async def send(job: PendingJob) -> None:
        sent.append(job)

    async with job_scope(send):
        n = await scanner.poll()
    return n, sent


async def payment_count(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as s:
        return int(await s.scalar(select(func.count()).select_from(Payment)) or 0)


async def checkpoint(session_maker: async_sessionmaker[AsyncSession]) -> ScannerCheckpoint:
    async with session_maker() as s:
        row = (await s.execute(select(ScannerCheckpoint))).scalars().one()
        s.expunge(row)
        return row


class TestFencing:
    @pytest.fixture
    async def devnet(self) -> AsyncIterator[DevnetServer]:
        async with DevnetServer(port=0, block_interval_ms=100, produce_blocks=False) as server:
            yield server

    async def test_a_standby_never_acts_while_the_leader_renews(
        self, devnet: DevnetServer, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        flash = funded_key(devnet.chain).address_base58
        customer = funded_key(devnet.chain, 100 * TRX)
        config = ScannerConfig(block_interval_s=3.0, fixed_addresses=frozenset({flash}))
        async with TronGateway([devnet.url], timeout_s=5) as gw:
            leader = BlockScanner(gw, session_maker, config)
            standby = BlockScanner(gw, session_maker, config)
            assert await leader.acquire()
            for _ in range(3):  # interleaved: the leader renews, the standby asks
                pay(devnet, customer, flash, 2 * TRX)
                assert await standby.acquire() is False
                assert (await polled(standby))[0] == 0
                assert await leader.renew()
                n, jobs = await polled(leader)
                assert n >= 1
                assert [j.name for j in jobs] == ["payment.process_payment"]
            assert standby.stats.blocks == standby.stats.payments == 0
            assert leader.stats.payments == await payment_count(session_maker) == 3
            assert (await checkpoint(session_maker)).leader_id == leader.token

    async def test_a_stale_leaders_batch_is_refused_and_rolled_back(
        self, devnet: DevnetServer, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """The leader stalls mid-batch past its lease; the standby takes over and records the
        payment; the stale leader's commit (payment row, job, cursor) is refused as a whole."""
        flash = funded_key(devnet.chain).address_base58
        customer = funded_key(devnet.chain, 100 * TRX)
        config = ScannerConfig(block_interval_s=3.0, fixed_addresses=frozenset({flash}))
        async with TronGateway([devnet.url], timeout_s=5) as gw:
            paused = Paused(gw)
            stale = BlockScanner(paused, session_maker, config)
            other = BlockScanner(gw, session_maker, config)
            assert await stale.acquire()
            pay(devnet, customer, flash, 2 * TRX)
            stale_jobs: list[PendingJob] = []

            async def stale_poll() -> None:
                async def send(job: PendingJob) -> None:
                    stale_jobs.append(job)

                async with job_scope(send):
                    await stale.poll()

            batch = asyncio.create_task(stale_poll())
            await paused.fetching.wait()  # the stale leader holds its batch, not committed
            async with session_maker() as s:  # ... for longer than its lease
                await s.execute(
                    update(ScannerCheckpoint).values(lease_until=datetime(2000, 1, 1, tzinfo=UTC))
                )
                await s.commit()
            assert await other.acquire()
            n, jobs = await polled(other)
            assert n >= 1 and len(jobs) == 1
            taken = await checkpoint(session_maker)
            paused.go.set()
            with pytest.raises(LeaseLost):
                await batch
            assert stale_jobs == []  # its batch rolled back: no job sent
            assert stale.token is None and not stale.holds_lease()
            assert await payment_count(session_maker) == 1
            after = await checkpoint(session_maker)
            assert (after.block_number, after.leader_id) == (taken.block_number, other.token)
            assert await stale.renew() is False  # and it cannot renew its way back in

    async def test_a_leader_that_cannot_renew_stops_before_its_lease_ends(
        self,
        devnet: DevnetServer,
        session_maker: async_sessionmaker[AsyncSession],
        tmp_path: Path,
    ) -> None:
        """Fail closed: with its database unreachable a leader keeps its token (the lease may
        still be its own) but acts only until the deadline of the last lease it wrote, counted
        from before that write; then it stands by and a healthy standby takes over."""
        flash = funded_key(devnet.chain).address_base58
        config = ScannerConfig(
            block_interval_s=3.0, lease_s=0.3, fixed_addresses=frozenset({flash})
        )
        unreachable = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
        async with TronGateway([devnet.url], timeout_s=5) as gw:
            leader = BlockScanner(gw, session_maker, config)
            standby = BlockScanner(gw, session_maker, config)
            assert await leader.acquire()
            before = time.monotonic()
            leader.session_maker = create_session_maker(unreachable)
            assert await leader.renew() is False
            assert leader.token is not None  # not known to be lost: acts until the deadline
            # the lease it wrote ends at the latest `lease_seconds` after `before`
            await asyncio.sleep(max(0.0, before + config.lease_seconds - time.monotonic()))
            assert not leader.holds_lease()  # stopped by then, however slow this machine
            with pytest.raises(OperationalError):
                await leader.poll()  # it may only try to take the lease again
            assert leader.stats.blocks == 0
            assert await standby.acquire()
            assert (await checkpoint(session_maker)).leader_id == standby.token
        await unreachable.dispose()

    async def test_a_released_lease_is_taken_at_once_from_the_checkpoint(
        self, devnet: DevnetServer, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        flash = funded_key(devnet.chain).address_base58
        customer = funded_key(devnet.chain, 100 * TRX)
        config = ScannerConfig(block_interval_s=3.0, fixed_addresses=frozenset({flash}))
        async with TronGateway([devnet.url], timeout_s=5) as gw:
            first = BlockScanner(gw, session_maker, config)
            second = BlockScanner(gw, session_maker, config)
            assert await first.acquire()
            pay(devnet, customer, flash, 2 * TRX)
            await polled(first)
            await first.release()
            pay(devnet, customer, flash, 3 * TRX)
            assert await second.acquire()
            n, jobs = await polled(second)
            assert n >= 1 and len(jobs) == 1
            assert first.stats.payments == second.stats.payments == 1
            assert await payment_count(session_maker) == 2


class TestTakeover:
    BLOCK_MS = 200

    @pytest.fixture
    async def devnet(self) -> AsyncIterator[DevnetServer]:
        async with DevnetServer(port=0, block_interval_ms=self.BLOCK_MS) as server:
            yield server

    async def test_a_standby_takes_over_within_two_blocks_of_the_leaders_death(
        self, devnet: DevnetServer, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        flash = funded_key(devnet.chain).address_base58
        customer = funded_key(devnet.chain, 1000 * TRX)
        config = ScannerConfig(
            block_interval_s=self.BLOCK_MS / 1000, fixed_addresses=frozenset({flash})
        )
        assert config.lease_seconds == pytest.approx(LEASE_BLOCKS * self.BLOCK_MS / 1000)
        sent: dict[str, list[PendingJob]] = {"leader": [], "standby": []}

        async def run(scanner: BlockScanner, name: str, stop: asyncio.Event) -> None:
            async def send(job: PendingJob) -> None:
                sent[name].append(job)

            async with job_scope(send):
                await scanner.run(stop)

        async with TronGateway([devnet.url], timeout_s=5) as gw:
            leader = BlockScanner(gw, session_maker, config)
            standby = BlockScanner(gw, session_maker, config)
            assert await leader.acquire()
            start = (await checkpoint(session_maker)).block_number
            stop = asyncio.Event()
            dead = asyncio.Event()  # the leader's own stop: never set, it is cancelled
            lead = asyncio.create_task(run(leader, "leader", dead))
            await asyncio.sleep(0)
            wait = asyncio.create_task(run(standby, "standby", stop))
            try:
                for i in range(4):  # both running: the standby polls, never acts
                    pay(devnet, customer, flash, (2 + i) * TRX)
                    await until(lambda i=i: leader.stats.payments > i, devnet)
                    assert standby.holds_lease() is False
                    await devnet_blocks(devnet, 1)
                lead.cancel()  # kill -9: no release, no more renewals
                with contextlib.suppress(asyncio.CancelledError):
                    await lead
                died_at = devnet.chain.head.number
                await until(standby.holds_lease, devnet, blocks=20)
                took_over_at = devnet.chain.head.number
                assert took_over_at - died_at <= 2, (died_at, took_over_at)
                pay(devnet, customer, flash, 5 * TRX)
                await until(lambda: standby.stats.payments >= 1, devnet)
            finally:
                stop.set()
                lead.cancel()  # already dead unless the test failed before killing it
                with contextlib.suppress(asyncio.CancelledError):
                    await lead
                await wait
            end = (await checkpoint(session_maker)).block_number
        # every block scanned once: the two scanners' batches never overlapped
        assert leader.stats.blocks + standby.stats.blocks == end - start
        assert leader.stats.payments + standby.stats.payments == 5
        assert await payment_count(session_maker) == 5
        job_ids = [a for jobs in sent.values() for j in jobs for a in j.args]
        assert len(job_ids) == len(set(job_ids)) == 5  # each payment handed on exactly once


async def devnet_blocks(devnet: DevnetServer, n: int) -> None:
    target = devnet.chain.head.number + n
    await until(lambda: devnet.chain.head.number >= target, devnet, blocks=n + 1)


async def until(condition: Any, devnet: DevnetServer, blocks: int = 50) -> None:
    """Wait for `condition()`, at most `blocks` devnet blocks."""
    limit = devnet.chain.head.number + blocks
    while not condition():
        assert devnet.chain.head.number < limit, "not within the block budget"
        await asyncio.sleep(0.005)
