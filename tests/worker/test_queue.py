"""The job queue wrapper: after-commit sending, retries with backoff, dead letters, priorities."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from subprocesses import free_port
from tronrent.kit.metrics import REGISTRY
from tronrent.worker import (
    ActorSpec,
    JobQueue,
    NoJobScope,
    PendingJob,
    Priority,
    Retry,
    actor,
    enqueue_job,
    job_scope,
    set_job_queue,
)

calls: list[tuple[str, tuple[object, ...]]] = []
flaky_state: dict[str, int] = {}


@actor("test.record", priority=Priority.HIGH)
async def record(order_id: str) -> None:
    calls.append(("record", (order_id,)))


@actor("test.flaky", max_retries=3, min_backoff_s=0.01, max_backoff_s=0.02)
async def flaky(key: str, fail_times: int) -> None:
    n = flaky_state.get(key, 0) + 1
    flaky_state[key] = n
    if n <= fail_times:
        raise Retry(f"attempt {n}") if n % 2 else RuntimeError(f"attempt {n}")
    calls.append(("flaky", (key, n)))


@actor("test.chain", priority=Priority.LOW)
async def chain(order_id: str) -> None:
    # a job that enqueues another: sent when the job ends (no transaction => nothing sent)
    calls.append(("chain", (order_id,)))


@pytest.fixture
async def queue() -> AsyncIterator[JobQueue]:
    failures: list[tuple[str, tuple[object, ...], str, int]] = []

    async def recorder(
        spec: ActorSpec, args: tuple[object, ...], exc: BaseException, n: int
    ) -> None:
        failures.append((spec.name, args, str(exc), n))

    q = JobQueue.in_memory(recorder=recorder)
    q.failures = failures  # type: ignore[attr-defined]
    await q.startup()
    set_job_queue(q)
    calls.clear()
    flaky_state.clear()
    yield q
    await q.drain()
    await q.shutdown()
    set_job_queue(None)


@pytest.fixture
async def sessions(tmp_path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/q.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id TEXT PRIMARY KEY)"))
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


class TestEnqueueJob:
    async def test_outside_scope_is_an_error(self, queue: JobQueue) -> None:
        with pytest.raises(NoJobScope):
            enqueue_job("test.record", "x")

    async def test_sent_only_after_commit(self, queue: JobQueue, sessions) -> None:
        async with job_scope():
            async with sessions() as s:
                await s.execute(text("INSERT INTO t VALUES ('a')"))
                enqueue_job("test.record", "a")
                await asyncio.sleep(0)
                await s.commit()
            assert calls == []  # committed, but not sent before the scope ends
        await queue.drain()
        assert calls == [("record", ("a",))]

    async def test_discarded_on_rollback(self, queue: JobQueue, sessions) -> None:
        async with job_scope():
            async with sessions() as s:
                await s.execute(text("INSERT INTO t VALUES ('b')"))
                enqueue_job("test.record", "b")
                await s.rollback()
            async with sessions() as s:
                enqueue_job("test.record", "c")
                await s.commit()
        await queue.drain()
        assert calls == [("record", ("c",))]

    async def test_discarded_when_never_committed(self, queue: JobQueue, sessions) -> None:
        with pytest.raises(ValueError):
            async with job_scope(), sessions() as s:
                await s.execute(text("INSERT INTO t VALUES ('d')"))
                enqueue_job("test.record", "d")
                raise ValueError("boom")
        await queue.drain()
        assert calls == []


class TestRetries:
    async def test_retries_then_succeeds(self, queue: JobQueue) -> None:
        await queue.send(PendingJob("test.flaky", ("k1", 2)))
        await queue.drain()
        assert calls == [("flaky", ("k1", 3))]
        assert queue.failures == []  # type: ignore[attr-defined]

    async def test_dead_letter_after_max_retries(self, queue: JobQueue) -> None:
        await queue.send(PendingJob("test.flaky", ("k2", 99)))
        await queue.drain()
        assert calls == []
        assert flaky_state["k2"] == 4  # first try + 3 retries
        [(name, args, _msg, attempts)] = queue.failures  # type: ignore[attr-defined]
        assert (name, args, attempts) == ("test.flaky", ("k2", 99), 4)


def worker_errors() -> float:
    return REGISTRY.get_sample_value("tronrent_errors_total", {"component": "worker"}) or 0.0


class TestWorkerErrorsMetric:
    async def test_an_unexpected_exception_counts_a_retry_does_not(self, queue: JobQueue) -> None:
        before = worker_errors()
        # attempt 1 raises Retry (expected: not an error), attempt 2 a RuntimeError, 3 succeeds
        await queue.send(PendingJob("test.flaky", ("m1", 2)))
        await queue.drain()
        assert calls == [("flaky", ("m1", 3))]
        assert worker_errors() == before + 1

    async def test_a_job_given_up_on_counts(self, queue: JobQueue) -> None:
        before = worker_errors()
        # Retry, RuntimeError, Retry, then the last attempt fails: dead-lettered
        await queue.send(PendingJob("test.flaky", ("m2", 99)))
        await queue.drain()
        assert worker_errors() == before + 2

    async def test_in_memory_depth_is_the_running_jobs(self, queue: JobQueue) -> None:
        assert await queue.depth() == {"high": 0, "medium": 0, "low": 0}


class TestPriorities:
    async def test_each_priority_has_its_own_broker(self, queue: JobQueue) -> None:
        names = {p: set(queue.brokers[p].get_all_tasks()) for p in Priority}
        assert "test.record" in names[Priority.HIGH]
        assert "test.chain" in names[Priority.LOW]
        assert "test.record" not in names[Priority.LOW]


class TestRedisAway:
    """A request or job whose transaction committed is answered as done even when its
    follow-up jobs cannot be queued (Redis away): the sweeps re-drive them from the database."""

    async def test_commit_stands_and_the_scope_ends_cleanly(self, sessions) -> None:
        dead = JobQueue.redis(f"redis://127.0.0.1:{free_port()}/0", prefix="tronrent-away")
        before = worker_errors()
        try:
            async with job_scope(dead.send), sessions() as s:
                await s.execute(text("INSERT INTO t VALUES ('away')"))
                enqueue_job("test.record", "away-1")
                enqueue_job("test.record", "away-2")
                await s.commit()
        finally:
            await dead.shutdown()
        async with sessions() as s:
            assert (await s.execute(text("SELECT id FROM t"))).scalars().all() == ["away"]
        assert worker_errors() == before + 2  # each lost send counted, none raised
        assert calls == []
