"""A block whose transaction infos the node does not fully give (java-tron answers ``{}`` or part
of them for a block it does not have yet: the gateway's block request and its infos request
reached nodes at different heights) is never committed: the blocks before it are, the checkpoint
stays before it, and once the node answers the USDT payment (or the count use) in it is recorded
exactly once - nothing is lost, on a real devnet and both databases."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.address import to_hex
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.count import repository as count_repo
from tronrent.kit.metrics import REGISTRY
from tronrent.models.payment import Payment
from tronrent.models.scanner_checkpoint import ScannerCheckpoint
from tronrent.scanner.blocks import CountUseSeen
from tronrent.scanner.service import BlockScanner, InfosIncomplete, ScannerConfig
from tronrent.worker import PendingJob, job_scope

TRX = 1_000_000


@dataclass
class Lagging:
    """A gateway whose first ``misses`` infos requests reach a node behind the block: it answers
    nothing (``partial``: the infos of every transaction but the ``hidden`` ones)."""

    inner: TronGateway
    misses: int
    partial: bool = False
    hidden: set[str] = field(default_factory=set)
    asked: list[int] = field(default_factory=list)

    async def get_blocks(self, start: int, end: int) -> Sequence[Mapping[str, Any]]:
        return await self.inner.get_blocks(start, end)

    async def get_transaction_infos(self, block_number: int) -> Sequence[Mapping[str, Any]]:
        self.asked.append(block_number)
        infos = await self.inner.get_transaction_infos(block_number)
        if len(self.asked) > self.misses:
            return infos
        return [i for i in infos if i.get("id") not in self.hidden] if self.partial else []

    async def get_head_block_number(self) -> int:
        return await self.inner.get_head_block_number()


def txid_of(rec: Any) -> str:
    return str(rec.txid.hex() if isinstance(rec.txid, bytes) else rec.txid)


def send_trx(devnet: DevnetServer, key: PrivateKey, to: str, amount: int) -> str:
    value = {"to_address": to_hex(to), "amount": amount}
    return txid_of(submit(devnet.chain, key, "TransferContract", value))


def send_usdt(devnet: DevnetServer, key: PrivateKey, to: str, units: int) -> str:
    data = "a9059cbb" + to_hex(to)[2:].rjust(64, "0") + f"{units:064x}"
    value = {"contract_address": to_hex(devnet.config.usdt_address), "data": data}
    return txid_of(submit(devnet.chain, key, "TriggerSmartContract", value, fee_limit=100 * TRX))


async def poll(scanner: BlockScanner) -> tuple[int | InfosIncomplete, list[PendingJob]]:
    """The poll's block count, or the `InfosIncomplete` it failed with; the jobs it sent."""
    sent: list[PendingJob] = []

    async def send(job: PendingJob) -> None:
        sent.append(job)

    async with job_scope(send):
        try:
            n: int | InfosIncomplete = await scanner.poll()
        except InfosIncomplete as exc:
            n = exc
    return n, sent


async def checkpoint(session_maker: async_sessionmaker[AsyncSession]) -> int | None:
    async with session_maker() as s:
        return await s.scalar(select(ScannerCheckpoint.block_number))


async def payments(session_maker: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with session_maker() as s:
        rows = await s.execute(select(Payment.tx_hash, Payment.asset).order_by(Payment.id))
        return [(tx, asset.value) for tx, asset in rows]


def failures() -> float:
    value = REGISTRY.get_sample_value(
        "tronrent_payment_monitoring_checks_total", {"result": "failure"}
    )
    return value or 0.0


def scanner_errors() -> float:
    return REGISTRY.get_sample_value("tronrent_errors_total", {"component": "scanner"}) or 0.0


class TestIncompleteInfos:
    @pytest.mark.parametrize("partial", [False, True], ids=["empty", "partial"])
    async def test_a_usdt_payment_is_not_lost_while_the_node_lags(
        self,
        partial: bool,
        devnet: DevnetServer,
        gateway: TronGateway,
        session_maker: async_sessionmaker[AsyncSession],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        flash = funded_key(devnet.chain).address_base58
        other = funded_key(devnet.chain).address_base58
        payer = funded_key(devnet.chain, 1_000 * TRX, usdt_units=100 * TRX)
        devnet.produce()
        start = devnet.chain.head.number
        before = send_trx(devnet, payer, flash, 2 * TRX)  # block 1: committed before the stall
        devnet.produce()
        paid = send_usdt(devnet, payer, flash, 3 * TRX)  # block 2: its infos come late
        send_usdt(devnet, payer, other, 1 * TRX)
        devnet.produce()
        after = send_trx(devnet, payer, flash, 4 * TRX)  # block 3: not passed to while stalled
        devnet.produce()
        config = ScannerConfig(
            start_block=start,
            fixed_addresses=frozenset({flash}),
            usdt_contract=devnet.config.usdt_address,
        )
        source = Lagging(gateway, misses=2, partial=partial, hidden={paid})
        scanner = BlockScanner(source, session_maker, config)
        failed = failures()

        with caplog.at_level(logging.DEBUG, logger="tronrent.scanner"):
            for _ in range(2):  # the node does not have the block's infos yet
                n, jobs = await poll(scanner)
                assert isinstance(n, InfosIncomplete)
                assert (n.block_number, n.missing) == (start + 2, 1)
                assert await checkpoint(session_maker) == start + 1
                assert await payments(session_maker) == [(before, "TRX")]
            warned = [
                r
                for r in caplog.records
                if r.levelno == logging.WARNING and f"block {start + 2}" in r.getMessage()
            ]
            assert len(warned) == 1  # once per block, not once per retry
        assert failures() == failed + 2  # each stalled poll is a failed monitoring check
        assert scanner.stats.incomplete == 2 and scanner.stats.blocks == 1

        n, jobs = await poll(scanner)  # the node caught up
        assert n == 2
        assert await checkpoint(session_maker) == start + 3
        assert await payments(session_maker) == [(before, "TRX"), (paid, "USDT"), (after, "TRX")]
        assert [j.name for j in jobs] == ["payment.process_payment"]
        assert len(jobs[0].args) == 2
        assert await poll(scanner) == (0, [])
        assert source.asked == [start + 2] * 3  # only the block holding the USDT call

    async def test_a_count_use_waits_for_its_receipt(
        self,
        devnet: DevnetServer,
        gateway: TronGateway,
        session_maker: async_sessionmaker[AsyncSession],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A count package's call is recorded with what the chain charged it, never as a use
        of zero energy because the node did not answer for it yet."""
        recorded: list[CountUseSeen] = []

        async def record_uses(
            session: AsyncSession, uses: Sequence[CountUseSeen], followed: Mapping[str, str]
        ) -> list[int]:
            recorded.extend(uses)
            return []

        monkeypatch.setattr(count_repo, "record_uses", record_uses)
        payer = funded_key(devnet.chain, 1_000 * TRX, usdt_units=100 * TRX)
        other = funded_key(devnet.chain).address_base58
        devnet.produce()
        start = devnet.chain.head.number
        used = send_usdt(devnet, payer, other, 1 * TRX)
        devnet.produce()

        async def followed(session: AsyncSession) -> dict[str, str]:
            return {payer.address_base58: "order-1"}

        config = ScannerConfig(start_block=start, usdt_contract=devnet.config.usdt_address)
        source = Lagging(gateway, misses=1)
        scanner = BlockScanner(source, session_maker, config, followed_loader=followed)
        n, _ = await poll(scanner)
        assert isinstance(n, InfosIncomplete) and n.block_number == start + 1
        assert recorded == [] and await checkpoint(session_maker) == start
        assert (await poll(scanner))[0] == 1
        [use] = recorded
        assert use.tx_hash == used and use.energy_total > 0
        assert await checkpoint(session_maker) == start + 1

    async def test_the_running_scanner_retries_like_after_a_node_error(
        self,
        devnet: DevnetServer,
        gateway: TronGateway,
        session_maker: async_sessionmaker[AsyncSession],
    ) -> None:
        """`run`: each stalled poll counts as a scanner error and waits for the next poll (no
        tight loop); the payment is then recorded once."""
        flash = funded_key(devnet.chain).address_base58
        payer = funded_key(devnet.chain, 1_000 * TRX, usdt_units=100 * TRX)
        devnet.produce()
        start = devnet.chain.head.number
        paid = send_usdt(devnet, payer, flash, 3 * TRX)
        devnet.produce()
        config = ScannerConfig(
            start_block=start,
            block_interval_s=0.2,
            fixed_addresses=frozenset({flash}),
            usdt_contract=devnet.config.usdt_address,
        )
        source = Lagging(gateway, misses=3)
        scanner = BlockScanner(source, session_maker, config)
        errors = scanner_errors()
        stop = asyncio.Event()

        async def send(job: PendingJob) -> None:
            pass

        async with job_scope(send):
            task = asyncio.create_task(scanner.run(stop))
            try:
                for _ in range(200):
                    if await checkpoint(session_maker) == start + 1:
                        break
                    await asyncio.sleep(0.02)
            finally:
                stop.set()
                await task
        assert await payments(session_maker) == [(paid, "USDT")]
        assert await checkpoint(session_maker) == start + 1
        assert scanner.stats.incomplete == 3
        assert scanner_errors() == errors + 3
        assert source.asked == [start + 1] * 4
