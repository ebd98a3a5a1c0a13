"""The scanner's metrics on a real devnet: each leader's poll is one payment monitoring check
(success, or failure when the node fails), and the leader reports how many blocks it is behind
the head - asking the head only after a full batch - while a standby reports nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.node import FaultRule
from trondevnet.server import DevnetServer
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.metrics import REGISTRY
from tronrent.scanner.service import BlockScanner, ScannerConfig
from tronrent.worker import PendingJob, job_scope


@pytest.fixture
async def gateway(devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([devnet.url], timeout_s=5, max_attempts=1, max_wait_s=0.2) as gw:
        yield gw


def lag(name: str) -> float | None:
    return REGISTRY.get_sample_value("tronrent_scanner_lag_blocks", {"scanner": name})


def checks(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "tronrent_payment_monitoring_checks_total", {"result": result}
    )
    return value or 0.0


async def poll(scanner: BlockScanner) -> int:
    async def send(job: PendingJob) -> None:
        pass  # no payments on these blocks

    async with job_scope(send):
        return await scanner.poll()


async def test_lag_and_checks_follow_the_chain(
    devnet: DevnetServer,
    gateway: TronGateway,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    head = await gateway.get_head_block_number()
    config = ScannerConfig(name="metrics", batch_size=5, start_block=head, block_interval_s=60)
    scanner = BlockScanner(gateway, session_maker, config)
    devnet.node.produce(12)
    ok = checks("success")
    assert await poll(scanner) == 5
    assert lag("metrics") == 7  # a full batch: the head asked for
    assert await poll(scanner) == 5
    assert lag("metrics") == 2
    assert await poll(scanner) == 2
    assert lag("metrics") == 0
    assert await poll(scanner) == 0  # caught up
    assert lag("metrics") == 0
    assert checks("success") == ok + 4

    failed = checks("failure")
    devnet.node.set_fault(FaultRule(error_rate=1.0))
    try:
        with pytest.raises(Exception):
            await poll(scanner)
    finally:
        devnet.node.clear_faults()
    assert checks("failure") == failed + 1
    assert checks("success") == ok + 4

    standby = BlockScanner(gateway, session_maker, config)
    assert await poll(standby) == 0  # not the leader: no check, no lag of its own
    assert checks("success") == ok + 4
    await scanner.release()
    assert lag("metrics") is None  # only a leader exports the lag
