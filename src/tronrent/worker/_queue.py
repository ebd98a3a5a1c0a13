"""A thin layer over taskiq: named actors, one queue per priority, retries, dead letters.

One taskiq broker per priority (separate in-memory executors, or separate Redis streams read
by one consumer group, acknowledged after the job ran: see `_streams`), so a
flood of low-priority jobs (notifications, pool sync) never delays a delegation. Retries run
inside the job runner with exponential backoff; a job that exhausts its retries is recorded
in `job_failures` (the dead letter) by the configured recorder. Jobs take ids only and reload
their state: any job may run twice (a lost ack, a sweeper), so each one checks idempotency.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

from taskiq import AsyncBroker, InMemoryBroker
from taskiq.kicker import AsyncKicker

from tronrent.kit.metrics import ERRORS
from tronrent.worker._enqueue import JobArg, PendingJob, job_scope

log = logging.getLogger(__name__)

#: a job taken by a worker that did not acknowledge it this long ago is handed to another
REDELIVER_AFTER_S = 300.0

P = ParamSpec("P")
R = TypeVar("R")


class Priority(IntEnum):
    """Queue of an actor: HIGH (payments, delegations), MEDIUM (reclaim, refund), LOW (rest)."""

    HIGH = 0
    MEDIUM = 1
    LOW = 2


class Retry(Exception):
    """Raise to retry the job later without counting as an error in the logs."""

    def __init__(self, reason: str = "", delay_s: float | None = None) -> None:
        super().__init__(reason)
        self.delay_s = delay_s


@dataclass(frozen=True)
class ActorSpec:
    name: str
    fn: Callable[..., Awaitable[Any]]
    priority: Priority
    max_retries: int
    min_backoff_s: float
    max_backoff_s: float
    period_s: float | None  # a periodic actor is enqueued every period_s by the scheduler
    #: a periodic actor's first run comes this long after the scheduler starts (not at once)
    start_delay_s: float = 0.0


_ACTORS: dict[str, ActorSpec] = {}


def actor(
    name: str,
    *,
    priority: Priority = Priority.MEDIUM,
    max_retries: int = 5,
    min_backoff_s: float = 0.2,
    max_backoff_s: float = 30.0,
    period_s: float | None = None,
    start_delay_s: float = 0.0,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Declare job `name` (`domain.verb_object`); the function takes ids only."""

    def register(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        if name in _ACTORS and _ACTORS[name].fn is not fn:
            raise ValueError(f"actor {name!r} declared twice")
        _ACTORS[name] = ActorSpec(
            name, fn, priority, max_retries, min_backoff_s, max_backoff_s, period_s, start_delay_s
        )
        return fn

    return register


def get_actor(name: str) -> ActorSpec:
    try:
        return _ACTORS[name]
    except KeyError:
        raise KeyError(f"unknown job {name!r}; is its tasks module imported?") from None


def all_actors() -> dict[str, ActorSpec]:
    return dict(_ACTORS)


def backoff_delay(spec: ActorSpec, attempt: int) -> float:
    """Exponential backoff with jitter: min * 2**(attempt-1), capped, +-25 %."""
    base = min(spec.max_backoff_s, spec.min_backoff_s * (2 ** max(0, attempt - 1)))
    return base * random.uniform(0.75, 1.25)


FailureRecorder = Callable[[ActorSpec, tuple[JobArg, ...], BaseException, int], Awaitable[None]]


async def run_job(
    spec: ActorSpec, args: tuple[JobArg, ...], recorder: FailureRecorder | None
) -> bool:
    """Run a job with retries in this process; True on success, False if dead-lettered."""
    attempt = 0
    while True:
        attempt += 1
        try:
            async with job_scope():
                await spec.fn(*args)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = exc.delay_s if isinstance(exc, Retry) and exc.delay_s else None
            if not isinstance(exc, Retry) or attempt > spec.max_retries:
                # an unexpected exception, or a job given up on: a worker error (metrics)
                ERRORS.labels(component="worker").inc()
            if attempt > spec.max_retries:
                log.error(
                    "job %s%r failed after %d attempts: %s",
                    spec.name,
                    args,
                    attempt,
                    exc,
                    exc_info=not isinstance(exc, Retry),
                )
                if recorder is not None:
                    try:
                        await recorder(spec, args, exc, attempt)
                    except Exception:
                        log.exception("could not record the failure of job %s", spec.name)
                return False
            wait = delay if delay is not None else backoff_delay(spec, attempt)
            log.warning(
                "job %s%r attempt %d failed (%s: %s); retrying in %.2fs",
                spec.name,
                args,
                attempt,
                type(exc).__name__,
                exc,
                wait,
            )
            await asyncio.sleep(wait)


class JobQueue:
    """The brokers of this process, one per priority."""

    def __init__(
        self,
        brokers: dict[Priority, AsyncBroker],
        recorder: FailureRecorder | None = None,
    ) -> None:
        self.brokers = brokers
        self.recorder = recorder
        self.sent = 0
        self._registered: set[tuple[Priority, str]] = set()
        self.register_all()

    @classmethod
    def in_memory(cls, recorder: FailureRecorder | None = None, concurrency: int = 50) -> JobQueue:
        brokers: dict[Priority, AsyncBroker] = {
            p: InMemoryBroker(max_async_tasks=concurrency, propagate_exceptions=False)
            for p in Priority
        }
        return cls(brokers, recorder)

    @classmethod
    def redis(
        cls,
        url: str,
        recorder: FailureRecorder | None = None,
        prefix: str = "tronrent",
        *,
        redeliver_after_s: float = REDELIVER_AFTER_S,
        poll_ms: int = 1000,
    ) -> JobQueue:
        """Redis streams, one per priority, one consumer group (`workers`) shared by every
        worker process: a job is acknowledged after it ran, and one taken by a worker that
        died is redelivered to another after `redeliver_after_s` (longer than any job runs;
        jobs are idempotent, so a slow job delivered twice is harmless)."""
        from tronrent.worker._streams import AckedStreamBroker

        brokers: dict[Priority, AsyncBroker] = {
            p: AckedStreamBroker(
                url,
                queue_name=f"{prefix}:stream:{p.name.lower()}",
                consumer_group_name="workers",
                consumer_id="0",
                idle_timeout=int(redeliver_after_s * 1000),
                xread_block=poll_ms,
                xread_count=20,
            )
            for p in Priority
        }
        return cls(brokers, recorder)

    @property
    def is_in_memory(self) -> bool:
        return all(isinstance(b, InMemoryBroker) for b in self.brokers.values())

    def register_all(self) -> None:
        """Register every declared actor on its broker (call again after importing tasks)."""
        for spec in _ACTORS.values():
            key = (spec.priority, spec.name)
            if key in self._registered:
                continue
            self.brokers[spec.priority].register_task(self._runner(spec), task_name=spec.name)
            self._registered.add(key)

    def _runner(self, spec: ActorSpec) -> Callable[..., Awaitable[None]]:
        async def runner(*args: JobArg) -> None:
            await run_job(spec, tuple(args), self.recorder)

        runner.__name__ = spec.name.replace(".", "_")
        return runner

    async def send(self, job: PendingJob) -> None:
        """Send a job to its queue now (prefer `enqueue_job`, which waits for the commit)."""
        self.register_all()
        spec = get_actor(job.name)
        broker = self.brokers[spec.priority]
        kicker: AsyncKicker[Any, Any] = AsyncKicker(task_name=spec.name, broker=broker, labels={})
        await kicker.kiq(*job.args)
        self.sent += 1

    async def startup(self) -> None:
        for b in self.brokers.values():
            await b.startup()

    async def shutdown(self) -> None:
        for b in self.brokers.values():
            await b.shutdown()

    async def depth(self) -> dict[str, int]:
        """Jobs waiting or running, per priority (health): on Redis the messages of each
        stream not yet delivered to a worker plus those delivered but not acknowledged; in
        memory the jobs running in this process (an in-memory job runs as soon as it is sent)."""
        out: dict[str, int] = {}
        for priority, broker in self.brokers.items():
            if isinstance(broker, InMemoryBroker):
                out[priority.name.lower()] = len(broker._running_tasks)
                continue
            out[priority.name.lower()] = await _stream_depth(broker)
        return out

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until no in-memory job is running (jobs started by jobs included)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            running: list[asyncio.Task[Any]] = []
            for b in self.brokers.values():
                if isinstance(b, InMemoryBroker):
                    running.extend(b._running_tasks)
            if not running:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"{len(running)} job(s) still running")
            await asyncio.wait(running, timeout=max(0.01, deadline - loop.time()))

    async def cancel_running(self) -> int:
        """Cancel in-memory jobs still running (shutdown); the database keeps their state and
        the sweeper of the next start picks them up. The number cancelled."""
        running: list[asyncio.Task[Any]] = []
        for b in self.brokers.values():
            if isinstance(b, InMemoryBroker):
                running.extend(t for t in b._running_tasks if not t.done())
        for t in running:
            t.cancel()
        if running:
            await asyncio.wait(running, timeout=5)
        return len(running)

    async def listen(
        self, stop: asyncio.Event, concurrency: int = 20, high_concurrency: int = 200
    ) -> None:
        """Consume the Redis queues until `stop` is set (a worker process); at most
        ``concurrency`` jobs of a queue at once, ``high_concurrency`` of the HIGH one: its
        delegation jobs wait for their merged batch (`Coalescer`) holding no connection, and
        20 slots capped a batch of orders paid one at a time (from the balance) at ~20."""
        from taskiq.receiver import Receiver

        receivers = [
            Receiver(
                b,
                max_async_tasks=high_concurrency if p is Priority.HIGH else concurrency,
                propagate_exceptions=False,
            )
            for p, b in self.brokers.items()
        ]
        await asyncio.gather(*(r.listen(stop) for r in receivers))


async def _stream_depth(broker: AsyncBroker) -> int:
    """Undelivered (``lag``) plus unacknowledged (``pending``) messages of the broker's stream
    in its consumer group (Redis 7 XINFO GROUPS); 0 before the group exists."""
    from redis.asyncio import Redis

    from tronrent.worker._streams import AckedStreamBroker

    assert isinstance(broker, AckedStreamBroker)
    async with Redis(connection_pool=broker.connection_pool) as conn:
        try:
            groups: Any = await conn.xinfo_groups(broker.queue_name)
        except Exception as exc:  # no such stream yet
            if "no such key" in str(exc).lower():
                return 0
            raise
    for group in groups:
        name = group.get("name") or group.get(b"name")
        if name in (broker.consumer_group_name, broker.consumer_group_name.encode()):
            lag = group.get("lag") or group.get(b"lag") or 0
            pending = group.get("pending") or group.get(b"pending") or 0
            return int(lag) + int(pending)
    return 0


_queue: list[JobQueue] = []


def set_job_queue(queue: JobQueue | None) -> None:
    _queue.clear()
    if queue is not None:
        _queue.append(queue)


def has_job_queue() -> bool:
    """Whether this process has a job queue to send to (every served process has one)."""
    return bool(_queue)


def get_job_queue() -> JobQueue:
    if not _queue:
        raise RuntimeError("job queue not configured (set_job_queue)")
    return _queue[0]
