"""The job queue of console tests whose actions enqueue a job (refund, match, retry): the real
in-memory queue receives it after the commit; with no engine in the ``console`` app the job
cannot run here, so what started is cancelled when the test ends (no task left running)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import tronrent.tasks  # noqa: F401 - every job declared
from tronrent.worker import JobQueue, set_job_queue


@pytest.fixture
async def job_queue() -> AsyncIterator[JobQueue]:
    queue = JobQueue.in_memory()
    await queue.startup()
    set_job_queue(queue)
    try:
        yield queue
    finally:
        await queue.cancel_running()
        await queue.shutdown()
        set_job_queue(None)
