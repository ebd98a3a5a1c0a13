"""The periodic scheduler's gate: a process that is not the scanner's leader sends no periodic
job (several engine processes on one Redis queue send each run once)."""

from __future__ import annotations

import asyncio
from typing import cast

import tronrent.tasks  # noqa: F401 - registers every actor, the periodic ones among them
from tronrent.worker import JobQueue, PendingJob, run_periodic


class Sent:
    """Stands in for the queue's ``send``: what the scheduler enqueues, nothing run."""

    def __init__(self) -> None:
        self.names: list[str] = []

    async def send(self, job: PendingJob) -> None:
        self.names.append(job.name)


async def test_runs_fall_due_while_standing_by_are_skipped_then_sent_once_leading() -> None:
    sent = Sent()
    stop = asyncio.Event()
    asked = 0
    leading = False

    def active() -> bool:
        nonlocal asked
        asked += 1
        return leading

    # 1000x faster: the 2 s and 5 s periods fall due every few milliseconds
    task = asyncio.create_task(run_periodic(cast(JobQueue, sent), stop, 1000, active))
    try:
        for _ in range(2000):
            if asked >= 20:
                break
            await asyncio.sleep(0.005)
        assert asked >= 20  # twenty runs fell due to a standby
        assert sent.names == []
        leading = True
        for _ in range(2000):
            if "delegation.sweep" in sent.names:
                break
            await asyncio.sleep(0.005)
        assert "delegation.sweep" in sent.names
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
