"""The Redis-backed queue (production): jobs sent to Redis are consumed by `listen`."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from tronrent.worker import JobQueue, PendingJob, Priority, actor

REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()
seen: list[str] = []


@actor("test.redis_record", priority=Priority.HIGH)
async def redis_record(value: str) -> None:
    seen.append(value)


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set")
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
