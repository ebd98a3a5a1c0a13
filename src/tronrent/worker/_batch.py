"""Batch jobs: one failing batch must not hold back the ids it carries."""

from __future__ import annotations

import asyncio
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


class _Batch:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ids: dict[str, None] = {}
        self.taken = False
        self.outcome: asyncio.Future[None] = loop.create_future()


class Coalescer:
    """Concurrent calls of one job merged into shared batches (a group commit).

    A call adds its ids to the open batch (at most ``max_ids``) and waits for a slot (at most
    ``slots`` batches run at once in this process). The first member to get a slot while its
    batch is not taken yet takes it and runs ``work`` on all its ids; the others share that
    run's outcome. So jobs that arrive one order at a time (balance payments, the sweeper's
    re-drives) cost one batch per slot turn, not one run each, while a job arriving alone runs
    at once. A batch failing with anything but `Retry` is not blamed on every member: each
    then runs its own ids alone (a poison id holds back no other). Nothing outlives the
    process: each job stays the unit of durability, acknowledged once its ids were run.
    """

    def __init__(self, slots: int = 2, max_ids: int = 200) -> None:
        self.slots = slots
        self.max_ids = max_ids
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore = asyncio.Semaphore(slots)
        self._open: _Batch | None = None

    def _join(self, ids: Sequence[str]) -> _Batch:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests, restarts): fresh state
            self._loop, self._semaphore, self._open = loop, asyncio.Semaphore(self.slots), None
        if self._open is None or len(self._open.ids) >= self.max_ids:
            self._open = _Batch(loop)  # a full batch waits for its slot, closed to newcomers
        self._open.ids.update(dict.fromkeys(ids))
        return self._open

    async def run(self, ids: Sequence[str], work: Callable[[list[str]], Awaitable[object]]) -> None:
        batch = self._join(ids)
        async with self._semaphore:
            if not batch.taken:  # nobody ran it yet: this member does
                batch.taken = True
                if self._open is batch:
                    self._open = None
                try:
                    await work(list(batch.ids))
                except asyncio.CancelledError:
                    batch.outcome.cancel()
                    raise
                except BaseException as exc:
                    batch.outcome.set_exception(exc)
                else:
                    batch.outcome.set_result(None)
        try:
            await asyncio.shield(batch.outcome)
        except Retry:
            raise
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not batch.outcome.cancelled() or (task is not None and task.cancelling()):
                raise
            await work(list(ids))  # the member that ran the batch was cancelled (shutdown)
        except Exception:
            if len(batch.ids) <= len(set(ids)):
                raise
            log.exception("batch of %d ids failed; running %s alone", len(batch.ids), list(ids))
            await work(list(ids))
