"""Batch jobs: one failing batch must not hold back the ids it carries."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.db import transaction_scope
from tronrent.worker._enqueue import JobArg, enqueue_job
from tronrent.worker._queue import Retry

log = logging.getLogger(__name__)


async def split_on_failure(
    name: str,
    ids: Sequence[JobArg],
    work: Callable[[], Awaitable[object]],
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    """Run the ``work`` of batch job ``name(*ids)``. If it fails (a `Retry` is re-raised) and
    the batch holds several ids, enqueue each id as a job of its own instead of failing: an id
    that cannot be processed holds back no other (each single job then retries and
    dead-letters on its own). The work must leave nothing half-done it cannot resume."""
    try:
        await work()
    except Retry:
        raise
    except Exception:
        if len(ids) < 2:
            raise
        log.exception("job %s: batch of %d failed; each id runs on its own", name, len(ids))
        async with transaction_scope(session_maker):  # the jobs go out once it commits
            for x in ids:
                enqueue_job(name, x)
