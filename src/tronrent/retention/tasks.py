"""The retention job (hourly): prune and partition by `RetentionPolicy` (docs/retention.md)."""

from __future__ import annotations

from tronrent.retention.policy import RetentionPolicy
from tronrent.retention.service import run_retention
from tronrent.worker import Priority, actor, get_worker_context

RETENTION_JOB = "retention.run"
#: how often the job runs; partitions are made days ahead, so an hour late costs nothing
RETENTION_PERIOD_S = 3600.0
#: the first run, a minute after start-up: not in the start-up rush of the other jobs
RETENTION_START_DELAY_S = 60.0


@actor(
    RETENTION_JOB,
    priority=Priority.LOW,
    max_retries=0,
    period_s=RETENTION_PERIOD_S,
    start_delay_s=RETENTION_START_DELAY_S,
)
async def run() -> None:
    """Delete what the policy lets go, make and drop partitions; logged and counted."""
    ctx = get_worker_context()
    await run_retention(ctx.session_maker, ctx.maybe(RetentionPolicy) or RetentionPolicy())
