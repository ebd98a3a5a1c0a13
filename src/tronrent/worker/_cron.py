"""Periodic jobs: each actor declared with `period_s` is enqueued every `period_s` seconds.

Run by one process (the scanner leader or `serve`): with several engine processes on one Redis
queue, each runs the scheduler but only the scanner's leader sends (``active``). Periodic jobs
are idempotent sweeps, so a second scheduler would only repeat work, never duplicate effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from tronrent.worker._enqueue import PendingJob
from tronrent.worker._queue import JobQueue, all_actors

log = logging.getLogger(__name__)


async def run_periodic(
    queue: JobQueue,
    stop: asyncio.Event,
    speedup: float = 1.0,
    active: Callable[[], bool] | None = None,
) -> None:
    """Enqueue periodic actors until `stop` is set; `speedup` > 1 shortens every period; a
    run that falls due while `active()` is False is skipped (another process sends it)."""
    loop = asyncio.get_running_loop()
    next_run: dict[str, float] = {}
    while not stop.is_set():
        now = loop.time()
        for spec in all_actors().values():
            if spec.period_s is None:
                continue
            due = next_run.setdefault(spec.name, now + spec.start_delay_s / speedup)
            if now >= due:
                next_run[spec.name] = now + spec.period_s / speedup
                if active is not None and not active():
                    continue
                try:
                    await queue.send(PendingJob(spec.name, ()))
                except Exception:
                    log.exception("could not enqueue periodic job %s", spec.name)
        wait = (
            min(
                [t for t in next_run.values()] + [now + 1.0],
            )
            - loop.time()
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.01, wait))
