"""The Redis-backed queue (production): jobs sent to Redis are consumed by `listen`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tronrent.worker import JobQueue, PendingJob, Priority, actor

REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()
seen: list[str] = []


@actor("test.redis_record", priority=Priority.HIGH)
async def redis_record(value: str) -> None:
    seen.append(value)


@actor("test.stream_job", priority=Priority.HIGH, max_retries=0)
async def stream_job(token: str) -> None:
    """Declared here for the sender; the worker processes (_stream_worker.py) run it."""
    raise AssertionError("runs in the worker subprocess only")


@pytest.mark.redis
@pytest.mark.redis
async def test_jobs_go_through_redis() -> None:
    queue = JobQueue.redis(REDIS_URL, prefix=f"tronrent-test-{uuid.uuid4().hex[:8]}")
    await queue.startup()
    stop = asyncio.Event()
    listener = asyncio.create_task(queue.listen(stop))
    try:
        token = uuid.uuid4().hex
        await queue.send(PendingJob("test.redis_record", (token,)))
        for _ in range(100):
            if token in seen:
                break
            await asyncio.sleep(0.05)
        assert token in seen
    finally:
        stop.set()
        await asyncio.wait_for(listener, 10)
        await queue.shutdown()


async def _wait_list(r: Any, key: str, n: int, wait_s: float) -> list[bytes]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        items: list[bytes] = await r.lrange(key, 0, -1)
        if len(items) >= n or loop.time() > deadline:
            return items
        await asyncio.sleep(0.05)


async def _spawn(prefix: str, key: str, mode: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("_stream_worker.py")),
        REDIS_URL,
        prefix,
        key,
        mode,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"ready"
    return proc


@pytest.mark.redis
@pytest.mark.redis
async def test_job_of_a_killed_worker_is_redelivered() -> None:
    """A worker takes a job and dies (SIGKILL) before acknowledging it: the stream keeps it
    pending and another worker claims it once it has been idle long enough."""
    from redis.asyncio import Redis

    prefix = f"tronrent-test-{uuid.uuid4().hex[:8]}"
    key = f"{prefix}:log"
    token = uuid.uuid4().hex
    r = Redis.from_url(REDIS_URL)
    procs: list[asyncio.subprocess.Process] = []
    try:
        doomed = await _spawn(prefix, key, "hang")
        procs.append(doomed)
        queue = JobQueue.redis(REDIS_URL, prefix=prefix)
        await queue.startup()
        await queue.send(PendingJob("test.stream_job", (token,)))
        await queue.shutdown()
        assert await _wait_list(r, f"{key}:started", 1, 10) == [token.encode()]
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        procs.append(await _spawn(prefix, key, "run"))
        assert await _wait_list(r, f"{key}:done", 1, 15) == [token.encode()]
        assert await r.lrange(f"{key}:started", 0, -1) == [token.encode()] * 2
        await asyncio.sleep(1.0)  # acknowledged: not delivered a third time
        assert await r.llen(f"{key}:started") == 2
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        keys = [k async for k in r.scan_iter(f"{prefix}:*")]
        if keys:
            await r.delete(*keys)
        await r.aclose()


@pytest.mark.redis
@pytest.mark.redis
async def test_depth_counts_jobs_not_yet_done() -> None:
    """/api/health's queue depth: messages not delivered yet plus delivered but unacknowledged."""
    queue = JobQueue.redis(REDIS_URL, prefix=f"tronrent-test-{uuid.uuid4().hex[:8]}")
    await queue.startup()
    try:
        assert await queue.depth() == {"high": 0, "medium": 0, "low": 0}
        tokens = [uuid.uuid4().hex for _ in range(3)]
        for token in tokens:
            await queue.send(PendingJob("test.redis_record", (token,)))
        assert await queue.depth() == {"high": 3, "medium": 0, "low": 0}
        stop = asyncio.Event()
        listener = asyncio.create_task(queue.listen(stop))
        try:
            for _ in range(200):
                if await queue.depth() == {"high": 0, "medium": 0, "low": 0}:
                    break
                await asyncio.sleep(0.05)
            assert set(tokens) <= set(seen)
            assert await queue.depth() == {"high": 0, "medium": 0, "low": 0}
        finally:
            stop.set()
            await asyncio.wait_for(listener, 10)
    finally:
        await queue.shutdown()


async def _seen(token: str, wait_s: float = 20.0) -> bool:
    for _ in range(int(wait_s / 0.05)):
        if token in seen:
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.redis
async def test_workers_go_on_after_redis_lost_its_streams() -> None:
    """Redis restarted without persistence (or its keys deleted): the streams and their
    consumer group are gone. The workers declare the group again and go on consuming (before,
    their read failed with NOGROUP and they stopped for good)."""
    from redis.asyncio import Redis

    prefix = f"tronrent-test-{uuid.uuid4().hex[:8]}"
    queue = JobQueue.redis(REDIS_URL, prefix=prefix, poll_ms=100)
    await queue.startup()
    stop = asyncio.Event()
    listener = asyncio.create_task(queue.listen(stop))
    redis = Redis.from_url(REDIS_URL)
    try:
        first = uuid.uuid4().hex
        await queue.send(PendingJob("test.redis_record", (first,)))
        assert await _seen(first)
        keys = [k async for k in redis.scan_iter(f"{prefix}:stream:*")]
        assert keys
        await redis.delete(*keys)
        after = uuid.uuid4().hex
        await queue.send(PendingJob("test.redis_record", (after,)))  # a new stream, no group
        assert await _seen(after)
        assert not listener.done()
    finally:
        stop.set()
        await asyncio.wait_for(listener, 10)
        await queue.shutdown()
        keys = [k async for k in redis.scan_iter(f"{prefix}:stream:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
