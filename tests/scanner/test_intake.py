"""The scanner's intake on a real devnet: a block's payments recorded with multi-row INSERTs and
handed to ONE payment job; a replayed batch records and enqueues nothing; an orphaned payment
seen again is restored (and re-driven only if it was never handled)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.address import to_hex
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.time import utcnow
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.models.scanner_checkpoint import ScannerCheckpoint
from tronrent.scanner.service import BlockScanner, ScannerConfig
from tronrent.worker import PendingJob, job_scope

TRX = 1_000_000


def send_trx(devnet: DevnetServer, key: PrivateKey, to: str, amount: int) -> str:
    rec = submit(
        devnet.chain, key, "TransferContract", {"to_address": to_hex(to), "amount": amount}
    )
    return str(rec.txid.hex() if isinstance(rec.txid, bytes) else rec.txid)


async def poll(scanner: BlockScanner) -> tuple[int, list[PendingJob]]:
    sent: list[PendingJob] = []

    async def send(job: PendingJob) -> None:
        sent.append(job)

    async with job_scope(send):
        n = await scanner.poll()
    return n, sent


async def rewind(session_maker: async_sessionmaker[AsyncSession], to: int) -> None:
    """As after a crash before the batch's commit was seen: the checkpoint is back at ``to``."""
    async with session_maker() as s:
        await s.execute(
            update(ScannerCheckpoint).values(
                block_number=to, block_id=None, leader_id=None, lease_until=None
            )
        )
        await s.commit()


async def payments(session_maker: async_sessionmaker[AsyncSession]) -> list[Payment]:
    async with session_maker() as s:
        return list((await s.execute(select(Payment).order_by(Payment.id))).scalars())


class TestIntake:
    async def test_a_block_of_payments_is_one_job(
        self,
        devnet: DevnetServer,
        gateway: TronGateway,
        session_maker: async_sessionmaker[AsyncSession],
    ) -> None:
        flash = funded_key(devnet.chain).address_base58
        senders = [funded_key(devnet.chain, 100 * TRX) for _ in range(40)]
        devnet.produce()
        start = devnet.chain.head.number
        txids = [send_trx(devnet, k, flash, 2 * TRX + i) for i, k in enumerate(senders)]
        devnet.produce()
        config = ScannerConfig(start_block=start, fixed_addresses=frozenset({flash}))

        n, jobs = await poll(BlockScanner(gateway, session_maker, config))
        assert n == 1
        rows = await payments(session_maker)
        assert sorted(p.tx_hash for p in rows) == sorted(txids)
        assert {p.status for p in rows} == {PaymentStatus.RECEIVED}
        assert jobs == [PendingJob("payment.process_payment", tuple(p.id for p in rows))]

        # a crash replays the batch: nothing recorded twice, nothing enqueued
        await rewind(session_maker, start)
        scanner = BlockScanner(gateway, session_maker, config)
        n, jobs = await poll(scanner)
        assert n == 1 and jobs == []
        assert [p.id for p in await payments(session_maker)] == [p.id for p in rows]
        assert scanner.stats.payments == 0

    async def test_more_than_a_job_holds_is_split_in_chain_order(
        self,
        devnet: DevnetServer,
        gateway: TronGateway,
        session_maker: async_sessionmaker[AsyncSession],
    ) -> None:
        flash = funded_key(devnet.chain).address_base58
        senders = [funded_key(devnet.chain, 100 * TRX) for _ in range(250)]
        devnet.produce()
        start = devnet.chain.head.number
        for i, k in enumerate(senders):
            send_trx(devnet, k, flash, 2 * TRX + i)
            if i in (99, 199):
                devnet.produce()
        devnet.produce()
        config = ScannerConfig(start_block=start, fixed_addresses=frozenset({flash}))
        n, jobs = await poll(BlockScanner(gateway, session_maker, config))
        assert n == 3
        rows = await payments(session_maker)
        assert len(rows) == 250
        chain_order = [p.id for p in sorted(rows, key=lambda p: (p.block_number, p.amount_units))]
        assert [j.name for j in jobs] == ["payment.process_payment"] * 2
        assert [len(j.args) for j in jobs] == [200, 50]
        assert [a for j in jobs for a in j.args] == chain_order

    async def test_an_orphaned_payment_seen_again_is_restored(
        self,
        devnet: DevnetServer,
        gateway: TronGateway,
        session_maker: async_sessionmaker[AsyncSession],
    ) -> None:
        flash = funded_key(devnet.chain).address_base58
        a, b, c = (funded_key(devnet.chain, 100 * TRX) for _ in range(3))
        devnet.produce()
        start = devnet.chain.head.number
        send_trx(devnet, a, flash, 2 * TRX)
        send_trx(devnet, b, flash, 3 * TRX)
        devnet.produce()
        config = ScannerConfig(start_block=start, fixed_addresses=frozenset({flash}))
        await poll(BlockScanner(gateway, session_maker, config))
        never_handled, handled = await payments(session_maker)
        # a fork took their block away (as `_handle_fork` flags them); one had been handled
        async with session_maker() as s:
            await s.execute(
                update(Payment)
                .where(Payment.id == handled.id)
                .values(handled_at=utcnow(), status=PaymentStatus.DUST)
            )
            await s.execute(
                update(Payment)
                .values(status=PaymentStatus.ORPHANED, block_id="gone")
                .execution_options(synchronize_session=False)
            )
            await s.commit()
        await rewind(session_maker, start)
        new_tx = send_trx(devnet, c, flash, 4 * TRX)  # the new chain's block has a new one too
        devnet.produce()
        n, jobs = await poll(BlockScanner(gateway, session_maker, config))
        assert n == 2
        rows = {p.id: p for p in await payments(session_maker)}
        restored = rows[never_handled.id]
        assert restored.status is PaymentStatus.RECEIVED
        assert (restored.block_id, restored.block_number) == (
            never_handled.block_id,
            never_handled.block_number,
        )
        assert rows[handled.id].status is PaymentStatus.RECEIVED  # no order: received, handled
        [new] = [p for p in rows.values() if p.tx_hash == new_tx]
        # one job: the restored payment that was never handled, and the new one, chain order
        assert jobs == [PendingJob("payment.process_payment", (never_handled.id, new.id))]


def send_usdt(devnet: DevnetServer, key: PrivateKey, to: str, units: int) -> str:
    data = "a9059cbb" + to_hex(to)[2:].rjust(64, "0") + f"{units:064x}"
    rec = submit(
        devnet.chain,
        key,
        "TriggerSmartContract",
        {"contract_address": to_hex(devnet.config.usdt_address), "data": data},
        fee_limit=100 * TRX,
    )
    return str(rec.txid.hex() if isinstance(rec.txid, bytes) else rec.txid)


class TestUsdtIntake:
    async def test_infos_read_only_for_blocks_with_a_watched_usdt_call(
        self,
        devnet: DevnetServer,
        gateway: TronGateway,
        session_maker: async_sessionmaker[AsyncSession],
    ) -> None:
        flash = funded_key(devnet.chain).address_base58
        other = funded_key(devnet.chain).address_base58
        payer = funded_key(devnet.chain, 1_000 * TRX, usdt_units=100 * TRX)
        devnet.produce()
        start = devnet.chain.head.number
        send_usdt(devnet, payer, other, 1 * TRX)  # block 1: USDT, not to us
        send_trx(devnet, payer, flash, 2 * TRX)
        devnet.produce()
        paid = send_usdt(devnet, payer, flash, 3 * TRX)  # block 2: USDT to us (and another)
        send_usdt(devnet, payer, other, 2 * TRX)
        devnet.produce()
        devnet.produce()  # block 3: empty
        config = ScannerConfig(
            start_block=start,
            fixed_addresses=frozenset({flash}),
            usdt_contract=devnet.config.usdt_address,
        )
        scanner = BlockScanner(gateway, session_maker, config)
        n, _ = await poll(scanner)
        assert n == 3
        # one batched block request + the infos of block 2 only
        assert scanner.stats.node_requests == 2
        rows = await payments(session_maker)
        usdt = [p for p in rows if p.asset.value == "USDT"]
        assert [(p.tx_hash, p.amount_units, p.to_address) for p in usdt] == [(paid, 3 * TRX, flash)]
