"""The block scanner: one active leader follows the chain from a durable checkpoint.

Per poll: one `getblockbylimitnext` for up to 100 blocks, plus one `gettransactioninfobyblocknum`
only for a block holding a TRC20 call to a watched address - so at most 2 node requests per
scanned block, whatever the number of open orders (watched addresses are an in-memory set,
refreshed from the database each poll). Every batch is one transaction: the new payments
(multi-row INSERT ... ON CONFLICT DO NOTHING on the tx hash; one payment job for all the new
rows, so a block costs a few statements and jobs, not a few per payment) and the checkpoint
advance commit together, fenced by the leader lease, so a crash replays the batch and the
replay inserts nothing twice. The same transaction confirms our own delegations and
undelegations seen in the batch, and our refunds (TRX transfers sent by our own addresses) - a
stored `chain_transactions` txID in a scanned block: one UPDATE per block holding any - and
enqueues their orders' settlement, reclaim completion and refund completion, one job each per
block - nobody polls the node per transaction.

A block whose transaction infos come back incomplete (a node answers ``{}`` or part of them for
a block it does not fully have yet) is never committed: the blocks before it are, and the poll
fails like a node error (`InfosIncomplete`), so the next poll reads that block again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.count import repository as count_repo
from tronrent.delegation import record
from tronrent.kit.db import upsert_insert
from tronrent.kit.metrics import ERRORS, PAYMENT_MONITORING_CHECKS, SCANNER_LAG_BLOCKS
from tronrent.kit.time import from_ms, utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.common import Currency
from tronrent.models.energy_transaction import EnergyTransactionStatus
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog
from tronrent.models.scanner_checkpoint import ScannerCheckpoint
from tronrent.payment import repository as payment_repo
from tronrent.scanner.blocks import (
    CountUseSeen,
    Transfer,
    TransferAsset,
    count_uses_from_infos,
    parse_block,
    trc20_transfers_from_infos,
)
from tronrent.worker import enqueue_job, job_scope

log = logging.getLogger("tronrent.scanner")

T = TypeVar("T")

MAX_BATCH = 100  # java-tron's getblockbylimitnext limit
#: the leader lease, in block intervals: after a leader dies a standby (polling every
#: 1/STANDBY_POLLS_PER_BLOCK block) takes over within LEASE_BLOCKS + 1/4 < 2 block intervals
LEASE_BLOCKS = 1.5
#: the leader renews its lease this many times per lease length
RENEWALS_PER_LEASE = 3
#: a standby (or a leader that lost its lease) tries to take the lease this often per block
STANDBY_POLLS_PER_BLOCK = 4
PROCESS_PAYMENT_JOB = "payment.process_payment"
SETTLE_DELEGATION_JOB = "delegation.delegate_order"
RECLAIM_JOB = "delegation.reclaim_order"
REFUND_JOB = "payment.refund_payment"
COUNT_USES_JOB = "count.apply_uses"
PAYOUT_JOB = "agent.pay_withdrawal"
#: ids per payment/settlement job: a block's worth at the target load (100 per block)
MAX_JOB_IDS = 200


class BlockSource(Protocol):
    """What the scanner needs from the chain gateway."""

    async def get_blocks(self, start: int, end: int) -> Sequence[Mapping[str, Any]]:
        """Blocks [start, end) that exist (at most 100), in order."""
        ...

    async def get_transaction_infos(self, block_number: int) -> Sequence[Mapping[str, Any]]:
        """All transaction infos (with logs) of one block."""
        ...

    async def get_head_block_number(self) -> int:
        """Number of the latest block."""
        ...


class LeaseLost(RuntimeError):
    """Another scanner took the lease; this one must stop writing."""


class InfosIncomplete(RuntimeError):
    """The node's transaction infos of a block lack some of the calls the scanner must read (its
    payments, its count uses): the blocks before it were committed, the checkpoint stays before
    it and the next poll reads it again (a transient node error)."""

    def __init__(self, block_number: int, missing: int) -> None:
        super().__init__(f"block {block_number}: {missing} transaction info(s) missing")
        self.block_number = block_number
        self.missing = missing


def _chunks(ids: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _block_fields(t: Transfer) -> dict[str, Any]:
    return {
        "block_number": t.block_number,
        "block_id": t.block_hash,
        "block_timestamp": from_ms(t.block_timestamp_ms) if t.block_timestamp_ms else None,
    }


@dataclass
class ScannerConfig:
    name: str = "main"
    confirmations: int = 0
    batch_size: int = MAX_BATCH
    block_interval_s: float = 3.0
    lease_s: float | None = None  # None: LEASE_BLOCKS block intervals
    reorg_depth: int = 30
    start_block: int | None = None  # None: start at the head on the first run
    fixed_addresses: frozenset[str] = frozenset()  # flash address(es), always watched
    #: addresses refunds are sent from (the configured refund address): TRX transfers they
    #: send confirm our stored refunds; the fixed addresses count too (the default refund
    #: account is the flash address)
    own_addresses: frozenset[str] = frozenset()
    usdt_contract: str | None = None

    @property
    def lease_seconds(self) -> float:
        """How long a lease lasts unless renewed."""
        return self.lease_s if self.lease_s is not None else LEASE_BLOCKS * self.block_interval_s


@dataclass
class ScanStats:
    polls: int = 0
    node_requests: int = 0
    blocks: int = 0
    payments: int = 0
    forks: int = 0
    orphaned: int = 0
    incomplete: int = 0  # polls stopped at a block whose transaction infos were incomplete


@dataclass
class _Cursor:
    number: int
    block_id: str | None


WatchedLoader = Callable[[AsyncSession], Awaitable[set[str]]]
FollowedLoader = Callable[[AsyncSession], Awaitable[dict[str, str]]]


@dataclass(frozen=True, slots=True)
class ScannerPosition:
    """The checkpoint as any process can read it (health): the last block scanned and whether
    a leader held the lease within the grace period."""

    block_number: int
    led: bool


async def scanner_position(
    session: AsyncSession, name: str = "main", *, grace_s: float = 10.0
) -> ScannerPosition | None:
    """The scanner's checkpoint (None: it never ran). ``led``: a leader's lease runs, or ran
    out less than ``grace_s`` ago (a renewal late on a busy host is not a missing scanner)."""
    row = await session.get(ScannerCheckpoint, name)
    if row is None:
        return None
    cutoff = utcnow() - timedelta(seconds=grace_s)
    led = row.leader_id is not None and row.lease_until is not None and row.lease_until > cutoff
    return ScannerPosition(int(row.block_number), led)


async def load_watched_addresses(session: AsyncSession) -> set[str]:
    """Addresses of open orders and active payment watches (one query each, no per-order I/O)."""
    orders = await session.execute(
        select(Order.payment_address)
        .where(Order.status == OrderStatus.PENDING, Order.payment_address.is_not(None))
        .distinct()
    )
    watches = await session.execute(
        select(PaymentMonitoringLog.payment_address)
        .where(PaymentMonitoringLog.status == MonitoringStatus.MONITORING)
        .distinct()
    )
    return {a for (a,) in orders if a} | {a for (a,) in watches if a}


@dataclass
class BlockScanner:
    source: BlockSource
    session_maker: async_sessionmaker[AsyncSession]
    config: ScannerConfig = field(default_factory=ScannerConfig)
    watched_loader: WatchedLoader = load_watched_addresses
    #: count packages' addresses (address -> order id): their USDT transfers are uses
    followed_loader: FollowedLoader = count_repo.followed_addresses
    scanner_id: str = field(default_factory=lambda: f"scanner-{uuid.uuid4().hex[:12]}")
    stats: ScanStats = field(default_factory=ScanStats)
    _cursor: _Cursor | None = None
    _watched: frozenset[str] = frozenset()
    _followed: dict[str, str] = field(default_factory=dict)
    _last_block_ms: int = 0
    _stalled_at: int | None = None  # the block last found with incomplete infos (logged once)
    _token: str | None = None
    _valid_until: float = 0.0

    # --- lease and checkpoint ------------------------------------------------------------
    # The lease is the checkpoint row's ``leader_id`` (a token: this scanner's id and a nonce
    # drawn at each acquisition) and ``lease_until``. Every write of the scanner (a batch, a
    # fork rewind) is fenced: its transaction first moves the cursor with ``WHERE leader_id =
    # :token AND block_number = :old``, so the write of a leader whose lease was taken over is
    # refused (LeaseLost) and rolled back with the payments and jobs of its batch.
    @property
    def token(self) -> str | None:
        """The lease token while this scanner believes it leads (None: standby)."""
        return self._token

    def holds_lease(self) -> bool:
        """Leader, and the lease cannot have expired yet by this process's clock (the deadline
        is counted from before the request that set the lease, so it errs early)."""
        return self._token is not None and time.monotonic() < self._valid_until

    def _lose(self) -> None:
        if self._token is not None:
            # only the leader reports the lag: an old leader's stale figure would hide it
            with contextlib.suppress(KeyError):
                SCANNER_LAG_BLOCKS.remove(self.config.name)
        self._token = None
        self._cursor = None
        self._valid_until = 0.0

    async def acquire(self) -> bool:
        """Renew our lease, or take it if it is free or expired (a new token, the cursor read
        from the checkpoint); creates the checkpoint on the first run."""
        if self._token is not None and await self.renew():
            return True
        lease = self.config.lease_seconds
        started = time.monotonic()
        now = utcnow()
        token = f"{self.scanner_id}.{uuid.uuid4().hex[:8]}"
        async with self.session_maker() as session:
            row = await session.get(ScannerCheckpoint, self.config.name)
            if row is None:
                start = self.config.start_block
                if start is None:
                    self.stats.node_requests += 1
                    start = max(0, await self.source.get_head_block_number() - 1)
                stmt = (
                    upsert_insert(session, ScannerCheckpoint)
                    .values(name=self.config.name, block_number=start, block_id=None)
                    .on_conflict_do_nothing(index_elements=["name"])
                )
                await session.execute(stmt)
            result = await session.execute(
                update(ScannerCheckpoint)
                .where(
                    ScannerCheckpoint.name == self.config.name,
                    or_(
                        ScannerCheckpoint.leader_id.is_(None),
                        ScannerCheckpoint.lease_until < now,
                    ),
                )
                .values(leader_id=token, lease_until=now + timedelta(seconds=lease))
                .returning(ScannerCheckpoint.block_number, ScannerCheckpoint.block_id)
            )
            got = result.first()
            await session.commit()
        if got is None:
            self._lose()
            return False
        self._token = token
        self._valid_until = started + lease
        self._cursor = _Cursor(int(got[0]), got[1])
        log.info("scanner %s leads from block %d", token, self._cursor.number)
        return True

    async def renew(self) -> bool:
        """Extend our lease. Fails closed: False when it was taken over (this scanner stands
        by at once) or the renewal failed (it goes on only until the current lease's deadline,
        `holds_lease`)."""
        token = self._token
        if token is None:
            return False
        lease = self.config.lease_seconds
        started = time.monotonic()
        now = utcnow()
        try:
            async with self.session_maker() as session:
                result = await session.execute(
                    update(ScannerCheckpoint)
                    .where(
                        ScannerCheckpoint.name == self.config.name,
                        ScannerCheckpoint.leader_id == token,
                    )
                    .values(lease_until=now + timedelta(seconds=lease))
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
        except Exception:
            log.warning("scanner %s could not renew its lease", token, exc_info=True)
            return False
        if getattr(result, "rowcount", 0) != 1:
            if self._token == token:
                log.warning("scanner %s lost its lease; standing by", token)
                self._lose()
            return False
        if self._token == token:
            self._valid_until = max(self._valid_until, started + lease)
        return True

    async def release(self) -> None:
        token = self._token
        self._lose()
        if token is None:
            return
        async with self.session_maker() as session:
            await session.execute(
                update(ScannerCheckpoint)
                .where(
                    ScannerCheckpoint.name == self.config.name,
                    ScannerCheckpoint.leader_id == token,
                )
                .values(leader_id=None, lease_until=None)
            )
            await session.commit()

    async def _advance(self, session: AsyncSession, old: _Cursor, new: _Cursor) -> float:
        """The fence, first statement of every scanner write: move the cursor (and extend the
        lease) only if we still hold the lease token and the cursor is where we left it.
        Returns the monotonic time the new lease is counted from."""
        token = self._token
        if token is None:
            raise LeaseLost(f"{self.scanner_id} holds no scanner lease")
        started = time.monotonic()
        until = utcnow() + timedelta(seconds=self.config.lease_seconds)
        result = await session.execute(
            update(ScannerCheckpoint)
            .where(
                ScannerCheckpoint.name == self.config.name,
                ScannerCheckpoint.leader_id == token,
                ScannerCheckpoint.block_number == old.number,
            )
            .values(block_number=new.number, block_id=new.block_id, lease_until=until)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise LeaseLost(f"{token} lost the scanner lease")
        return started

    def _advanced(self, started: float, new: _Cursor) -> None:
        """After the fenced transaction committed: the new cursor, the extended lease."""
        self._cursor = new
        self._valid_until = max(self._valid_until, started + self.config.lease_seconds)

    # --- scanning --------------------------------------------------------------------------
    async def refresh_watched(self) -> frozenset[str]:
        async with self.session_maker() as session:
            dynamic = await self.watched_loader(session)
            self._followed = await self.followed_loader(session)
        self._watched = frozenset(dynamic) | self.config.fixed_addresses
        return self._watched

    async def poll(self) -> int:
        """Scan what is new; the number of blocks processed (0: caught up or not the leader).
        Each leader's poll is one payment monitoring check (metrics: success or failure).
        Raises `InfosIncomplete` (a failure) after committing the blocks before a block whose
        transaction infos the node did not fully give."""
        self.stats.polls += 1
        try:
            if (not self.holds_lease() or self._cursor is None) and not await self.acquire():
                return 0
            n = await self._scan()
        except LeaseLost:
            raise
        except Exception:
            PAYMENT_MONITORING_CHECKS.labels(result="failure").inc()
            raise
        PAYMENT_MONITORING_CHECKS.labels(result="success").inc()
        return n

    def _report_lag(self, head: int) -> None:
        """The lag gauge: blocks between the cursor and the last block usable at ``head``."""
        cursor = self._cursor
        if cursor is None or self._token is None:
            return
        lag = max(0, head - self.config.confirmations - cursor.number)
        SCANNER_LAG_BLOCKS.labels(scanner=self.config.name).set(lag)

    async def _scan(self) -> int:
        cursor = self._cursor
        assert cursor is not None
        await self.refresh_watched()
        start = cursor.number + 1
        self.stats.node_requests += 1
        raw = list(await self.source.get_blocks(start, start + self.config.batch_size))
        if not raw:
            self._report_lag(cursor.number + self.config.confirmations)  # at the head
            return 0
        own = self.config.own_addresses | self.config.fixed_addresses
        senders = frozenset(self._followed) if self._trc20 else frozenset()
        blocks = [parse_block(b, self._watched, self._trc20, own, senders) for b in raw]
        head = blocks[-1].number
        last_usable = head - self.config.confirmations
        usable = [b for b in blocks if b.number <= last_usable]
        if len(raw) >= self.config.batch_size:
            # a full batch: the head is further on (one more request, only while behind)
            self.stats.node_requests += 1
            head = max(head, await self.source.get_head_block_number())
        if not usable:
            self._report_lag(head)
            return 0
        expected_parent = cursor.block_id
        for b in usable:
            if expected_parent is not None and b.parent_hash != expected_parent:
                await self._handle_fork(cursor)
                return 0
            expected_parent = b.block_hash
        transfers: list[Transfer] = []
        uses: list[CountUseSeen] = []
        incomplete: InfosIncomplete | None = None
        for i, b in enumerate(usable):
            if b.needs_infos:  # one request serves the block's payments and count uses
                self.stats.node_requests += 1
                infos = list(await self.source.get_transaction_infos(b.number))
                missing = b.missing_infos(infos)
                if missing:  # the node does not fully have it yet: stop before it
                    incomplete = InfosIncomplete(b.number, len(missing))
                    usable = usable[:i]
                    break
                transfers.extend(b.transfers)
                transfers.extend(trc20_transfers_from_infos(b, infos, self._watched, self._trc20))
                uses.extend(count_uses_from_infos(b, infos))
            else:
                transfers.extend(b.transfers)
        if usable:
            delegations = {
                b.number: (b.delegations, b.undelegations, b.own_transfers)
                for b in usable
                if b.delegations or b.undelegations or b.own_transfers
            }
            new_cursor = _Cursor(usable[-1].number, usable[-1].block_hash)
            await self._commit_batch(cursor, new_cursor, transfers, delegations, uses)
            self.stats.blocks += len(usable)
        self._last_block_ms = blocks[-1].timestamp_ms
        self._report_lag(head)
        if incomplete is not None:
            self._stalled(incomplete)
            raise incomplete
        if self._stalled_at is not None and usable[-1].number >= self._stalled_at:
            log.info("block %d: transaction infos complete, scanned", self._stalled_at)
            self._stalled_at = None
        return len(usable)

    def _stalled(self, incomplete: InfosIncomplete) -> None:
        """Count a poll stopped at a block with incomplete infos; warn once per block."""
        self.stats.incomplete += 1
        if self._stalled_at == incomplete.block_number:
            log.debug("%s; retrying", incomplete)
            return
        self._stalled_at = incomplete.block_number
        log.warning(
            "block %d: %d transaction info(s) missing from the node's answer; the checkpoint "
            "stays before it and the next poll reads it again",
            incomplete.block_number,
            incomplete.missing,
        )

    @property
    def _trc20(self) -> frozenset[str]:
        c = self.config.usdt_contract
        return frozenset({c}) if c else frozenset()

    async def _commit_batch(
        self,
        old: _Cursor,
        new: _Cursor,
        transfers: Sequence[Transfer],
        delegations: Mapping[int, tuple[frozenset[str], ...]] | None = None,
        uses: Sequence[CountUseSeen] = (),
    ) -> None:
        """``delegations``: block number -> (its delegation txids, its undelegation txids[,
        the txids of the TRX transfers our own addresses sent])."""
        async with job_scope(), self.session_maker() as session:
            try:
                started = await self._advance(session, old, new)  # the fence comes first
                await self._intake(session, transfers)
                for number, txids in (delegations or {}).items():
                    await self._confirm_delegations(session, number, *txids)
                if uses:
                    new_uses = await count_repo.record_uses(session, uses, self._followed)
                    for chunk in _chunks(new_uses, MAX_JOB_IDS):
                        enqueue_job(COUNT_USES_JOB, *chunk)
                await session.commit()
            except LeaseLost:
                await session.rollback()
                self._lose()
                raise
        self._advanced(started, new)

    async def _confirm_delegations(
        self,
        session: AsyncSession,
        block_number: int,
        delegated: frozenset[str],
        undelegated: frozenset[str] = frozenset(),
        refunded: frozenset[str] = frozenset(),
    ) -> None:
        """Our stored delegations among ``delegated``, undelegations among ``undelegated`` and
        refunds, recipient activations and agent payouts among ``refunded`` (transfers of our own
        addresses, successful in block ``block_number``) are confirmed, in one UPDATE; one job
        settles the delegations' orders (and delegates the activated ones), one completes the
        undelegations' reclaims, one applies the refunds to their payments (idempotent: only
        signed/broadcast rows)."""
        wanted = [
            and_(ChainTransaction.txid.in_(sorted(txids)), ChainTransaction.purpose.in_(purposes))
            for txids, purposes in (
                (delegated, (ChainTxPurpose.DELEGATE,)),
                (undelegated, (ChainTxPurpose.UNDELEGATE,)),
                (
                    refunded,
                    (
                        ChainTxPurpose.REFUND,
                        ChainTxPurpose.REFUND_REST,
                        ChainTxPurpose.ACTIVATE,
                        ChainTxPurpose.PAYOUT,
                    ),
                ),
            )
            if txids
        ]
        if not wanted:
            return
        rows = await session.execute(
            update(ChainTransaction)
            .where(
                or_(*wanted),
                ChainTransaction.status.in_((ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST)),
            )
            .values(
                status=ChainTxStatus.CONFIRMED, block_number=block_number, confirmed_at=utcnow()
            )
            .returning(
                ChainTransaction.order_id,
                ChainTransaction.payment_id,
                ChainTransaction.purpose,
                ChainTransaction.withdrawal_id,
                ChainTransaction.txid,
            )
            .execution_options(synchronize_session=False)
        )
        by_job: dict[str, set[str]] = {SETTLE_DELEGATION_JOB: set(), RECLAIM_JOB: set()}
        payment_ids: set[int] = set()
        withdrawal_ids: set[int] = set()
        top_ups: list[record.Outcome] = []
        for oid, pid, purpose, wid, txid in rows:
            if oid is None and purpose in (ChainTxPurpose.DELEGATE, ChainTxPurpose.UNDELEGATE):
                # a count package's top-up (no order job follows): its record is confirmed here
                top_ups.append(
                    record.Outcome(txid, EnergyTransactionStatus.CONFIRMED, block_number)
                )
            if purpose == ChainTxPurpose.PAYOUT:
                if wid is not None:
                    withdrawal_ids.add(int(wid))
            elif purpose in (ChainTxPurpose.REFUND, ChainTxPurpose.REFUND_REST):
                if pid is not None:
                    payment_ids.add(int(pid))
            elif oid is not None:
                job = RECLAIM_JOB if purpose == ChainTxPurpose.UNDELEGATE else SETTLE_DELEGATION_JOB
                by_job[job].add(oid)
        await record.settle(session, top_ups)
        for job, order_ids in by_job.items():
            for chunk in _chunks(sorted(order_ids), MAX_JOB_IDS):
                enqueue_job(job, *chunk)
        for ids in _chunks(sorted(payment_ids), MAX_JOB_IDS):
            enqueue_job(REFUND_JOB, *ids)
        for wids in _chunks(sorted(withdrawal_ids), MAX_JOB_IDS):
            enqueue_job(PAYOUT_JOB, *wids)

    async def _intake(self, session: AsyncSession, transfers: Sequence[Transfer]) -> None:
        """Record the batch's transfers with multi-row INSERTs (a replay inserts nothing) and
        hand the new ones - and orphaned ones seen again, if still unhandled - to the payment
        job, a few jobs per batch in chain order."""
        if not transfers:
            return
        rows: dict[payment_repo.PaymentKey, dict[str, Any]] = {}
        for t in transfers:
            rows.setdefault(
                (t.tx_hash, 0),
                {
                    "tx_hash": t.tx_hash,
                    "event_index": 0,
                    "asset": Currency.TRX if t.asset is TransferAsset.TRX else Currency.USDT,
                    "token_contract": t.token_contract,
                    "from_address": t.from_address,
                    "to_address": t.to_address,
                    "amount_units": t.amount,
                    **_block_fields(t),
                },
            )
        new = await payment_repo.record_payments(session, list(rows.values()))
        restored: dict[payment_repo.PaymentKey, Payment] = {}
        if len(new) < len(rows):  # some were recorded before: orphaned ones come back
            seen = {key: _block_fields(t) for t in transfers if (key := (t.tx_hash, 0)) not in new}
            restored = await payment_repo.restore_orphaned_many(session, seen)
        due: list[int] = []
        for key in rows:  # chain order
            if key in new:
                due.append(new[key])
            elif (payment := restored.get(key)) is not None and payment.handled_at is None:
                due.append(payment.id)
        for chunk in _chunks(due, MAX_JOB_IDS):
            enqueue_job(PROCESS_PAYMENT_JOB, *chunk)
        self.stats.payments += len(new)
        if log.isEnabledFor(logging.DEBUG):
            for t in transfers:
                if (t.tx_hash, 0) in new:
                    log.debug(
                        "payment seen: %s %s -> %s amount=%d block=%d",
                        t.tx_hash,
                        t.from_address,
                        t.to_address,
                        t.amount,
                        t.block_number,
                    )
        if new or restored:
            log.info(
                "payments: %d new, %d restored after a fork, %d already recorded (blocks %d-%d)",
                len(new),
                len(restored),
                len(rows) - len(new) - len(restored),
                transfers[0].block_number,
                transfers[-1].block_number,
            )

    async def _handle_fork(self, cursor: _Cursor) -> None:
        """The chain no longer extends our checkpoint: rewind and flag vanished payments."""
        self.stats.forks += 1
        rewind = max(0, cursor.number - self.config.reorg_depth)
        self.stats.node_requests += 1
        raw = await self.source.get_blocks(rewind, cursor.number + 1)
        canonical = {
            int(b.get("block_header", {}).get("raw_data", {}).get("number", 0)): str(b["blockID"])
            for b in raw
        }
        anchor_id = canonical.get(rewind)
        anchor = _Cursor(rewind, anchor_id)
        async with job_scope(), self.session_maker() as session:
            try:
                started = await self._advance(session, cursor, anchor)
                gone = await payment_repo.orphan_payments(session, rewind + 1, canonical)
                await session.commit()
            except LeaseLost:
                await session.rollback()
                self._lose()
                raise
        self._advanced(started, anchor)
        self.stats.orphaned += len(gone)
        log.warning(
            "fork below block %d: rewound to %d, %d payment(s) orphaned",
            cursor.number,
            rewind,
            len(gone),
        )

    def next_block_in(self) -> float | None:
        """Seconds until the next block is due by the last block seen (blocks come every
        interval: one seen late counts from its own time); None before any."""
        if not self._last_block_ms:
            return None
        interval = self.config.block_interval_s
        return (self._last_block_ms / 1000 + interval - time.time()) % interval

    def _idle_wait(self, interval: float) -> float:
        """Sleep until just after the next block is due (one request per block, low latency)."""
        if not self._last_block_ms:
            return interval
        due_s = (self._last_block_ms / 1000 + interval) - time.time() + interval * 0.1
        return min(interval, max(interval * 0.1, due_s))

    async def keep_lease(self, stop: asyncio.Event) -> None:
        """Renew the lease every 1/RENEWALS_PER_LEASE of it while leading, whatever the scan
        loop is doing (a long batch, a slow node): until `stop`."""
        every = self.config.lease_seconds / RENEWALS_PER_LEASE
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            if self._token is not None and not stop.is_set():
                await self.renew()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`: at once while behind, about once per block when caught up; a
        standby tries to take the lease every 1/STANDBY_POLLS_PER_BLOCK block."""
        idle = self.config.block_interval_s
        standby = idle / STANDBY_POLLS_PER_BLOCK
        renewer = asyncio.get_running_loop().create_task(
            self.keep_lease(stop), name=f"{self.scanner_id}-lease"
        )
        try:
            while not stop.is_set():
                try:
                    n = await self.poll()
                except LeaseLost:
                    log.warning("scanner %s lost its lease; standing by", self.scanner_id)
                    n = 0
                except InfosIncomplete:
                    # a transient node error (logged by the scan): retried at the next poll
                    ERRORS.labels(component="scanner").inc()
                    n = 0
                except Exception:
                    log.exception("scanner poll failed; retrying")
                    ERRORS.labels(component="scanner").inc()
                    n = 0
                if n >= self.config.batch_size - self.config.confirmations and n > 0:
                    continue  # behind: the next batch at once
                wait = self._idle_wait(idle) if self.holds_lease() else standby
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
