"""Run the flash rental machinery in this process (serve on the embedded default, tests).

`FlashEngine` installs the worker context (session maker, chain, secret box, runtime), starts
the job queue (in-memory, or Redis when a URL is given: then this process also consumes it),
the block scanner and the periodic jobs, and stops them in reverse order. Several engines may
share one database and Redis queue: one scanner leads (the checkpoint's lease) and its
process alone sends the periodic jobs and picks up balance-paid orders; every one runs jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import tronrent.tasks  # noqa: F401 - registers every actor
from tronrent.adapters.tron.port import ChainPort
from tronrent.count.tasks import sweep as count_sweep
from tronrent.delegation.deps import install_flash_resources
from tronrent.delegation.tasks import balance_pickup, sweep
from tronrent.kit.crypto import SecretBox
from tronrent.kit.time import now_ms
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.pricing.calc import PriceConfigError
from tronrent.retention.policy import RetentionPolicy
from tronrent.scanner.service import BlockScanner, ScannerConfig
from tronrent.worker import (
    JobQueue,
    WorkerContext,
    job_scope,
    record_failure,
    run_periodic,
    set_job_queue,
    set_worker_context,
)

log = logging.getLogger("tronrent.flash")


@dataclass
class FlashEngine:
    session_maker: async_sessionmaker[AsyncSession]
    chain: ChainPort
    box: SecretBox
    rt: FlashRuntime
    scanner_config: ScannerConfig | None = None
    redis_url: str | None = None
    run_scanner: bool = True
    run_workers: bool = True
    run_periodic_jobs: bool = True
    periodic_speedup: float = 1.0
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    drain_timeout_s: float = 5.0
    queue: JobQueue = field(init=False)
    scanner: BlockScanner | None = field(init=False, default=None)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    async def start(self) -> FlashEngine:
        started_ms = now_ms()
        ctx = WorkerContext(self.session_maker)
        install_flash_resources(ctx, chain=self.chain, box=self.box, rt=self.rt)
        ctx.provide(RetentionPolicy, self.retention)
        set_worker_context(ctx)
        if self.redis_url:
            self.queue = JobQueue.redis(self.redis_url, recorder=record_failure)
        else:
            self.queue = JobQueue.in_memory(recorder=record_failure)
        await self.queue.startup()
        set_job_queue(self.queue)
        self._stop = asyncio.Event()
        if self.redis_url and self.run_workers:
            self._spawn(self.queue.listen(self._stop), "workers")
        if self.run_scanner:
            cfg = self.scanner_config or ScannerConfig(
                block_interval_s=self.rt.block_interval_ms / 1000,
                fixed_addresses=frozenset({self.rt.payment_address}),
            )
            cfg = replace(cfg, own_addresses=cfg.own_addresses | await self._refund_accounts())
            self.scanner = BlockScanner(self.chain, self.session_maker, cfg)
            await self.scanner.acquire()  # the first run's checkpoint is the head at start-up
            self._spawn(self.scanner.run(self._stop), "scanner")
            if self.run_workers:  # orders paid from the balance: by the scanner's leader
                pickup = balance_pickup(self.scanner.holds_lease, self.scanner.next_block_in)
                self._spawn(pickup.run(self._stop), "balance-pickup")
        if self.run_periodic_jobs:
            await self._start_up_sweep(started_ms)
            self._spawn(
                run_periodic(self.queue, self._stop, self.periodic_speedup, self._schedules),
                "periodic",
            )
        return self

    def _schedules(self) -> bool:
        """Whether this process sends the periodic jobs now: always to its own in-memory
        queue; to the shared Redis queue only while it holds the scanner lease, so several
        engine processes (``serve --role engine``) send each run once."""
        if self.queue.is_in_memory or self.scanner is None:
            return True
        return self.scanner.holds_lease()

    async def _start_up_sweep(self, started_ms: int) -> None:
        """The delegation sweep, at once and before the periodic one: what a killed process
        left (paid but not delegated, stored but not broadcast, recorded but not handled) is
        re-driven now, not once it looks stuck; the start-time cutoff keeps it off the work
        started from here on. Run here rather than queued, so it never overlaps the first
        periodic sweep."""
        try:
            async with job_scope():
                await sweep(started_ms)
                await count_sweep(started_ms)
        except Exception:
            log.exception("start-up sweep failed; the periodic sweep will retry")

    async def _refund_accounts(self) -> frozenset[str]:
        """The addresses refunds are sent from: the scanner confirms their transfers. A refund
        address configured later is not among them: its refunds complete through the
        sweeper's lookup instead."""
        own = {self.rt.payment_address}
        try:
            async with self.session_maker() as s:
                configured = (await order_service.config(s, self.rt)).refund_address
        except PriceConfigError:
            log.exception("flash config unreadable; refunds confirmed from the flash address")
            configured = None
        if configured:
            own.add(configured)
        return frozenset(own)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=f"flash-{name}"))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
        self._tasks.clear()
        if self.scanner is not None:
            with contextlib.suppress(Exception):
                await self.scanner.release()
        try:
            await self.queue.drain(timeout_s=self.drain_timeout_s)
        except TimeoutError:
            cancelled = await self.queue.cancel_running()
            log.info("stopped with %d job(s) cancelled; the sweeper resumes them", cancelled)
        await self.queue.shutdown()
        set_job_queue(None)
        set_worker_context(None)

    async def __aenter__(self) -> FlashEngine:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
