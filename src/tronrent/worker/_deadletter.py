"""The dead letter: a job that exhausted its retries becomes a `job_failures` row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import Conflict, NotFound
from tronrent.kit.keyset import Page, Position, newest_first, page
from tronrent.kit.time import utcnow
from tronrent.models.job_failure import JobFailure
from tronrent.notification import alerts
from tronrent.worker._context import get_worker_context
from tronrent.worker._enqueue import JobArg, enqueue_job
from tronrent.worker._queue import ActorSpec, all_actors


async def record_failure(
    spec: ActorSpec, args: tuple[JobArg, ...], exc: BaseException, attempts: int
) -> None:
    """Insert the failure (job, ids, error text, attempts) in its own transaction."""
    ctx = get_worker_context()
    async with ctx.session_maker() as session:
        failure = JobFailure(
            job_name=spec.name,
            args=list(args),
            error=f"{type(exc).__name__}: {exc}"[:4000],
            attempts=attempts,
        )
        session.add(failure)
        await session.flush()
        await alerts.job_dead_lettered(
            session, job_name=spec.name, job_id=failure.id, error=failure.error
        )
        await session.commit()


async def list_failures(limit: int = 100, *, unresolved_only: bool = True) -> list[JobFailure]:
    ctx = get_worker_context()
    async with ctx.session_maker() as session:
        stmt = select(JobFailure).order_by(JobFailure.id.desc()).limit(limit)
        if unresolved_only:
            stmt = stmt.where(JobFailure.resolved_at.is_(None))
        return list((await session.execute(stmt)).scalars().all())


async def failures_page(
    session: AsyncSession,
    *,
    unresolved: bool | None = None,
    job_name: str | None = None,
    limit: int = 50,
    after: Position[int] | None = None,
) -> Page[JobFailure]:
    """One page of the dead letter, newest first (``unresolved``: True open ones only, False
    resolved ones only, None all); read along ``idx_job_failures_failed_at``."""
    conditions: list[ColumnElement[bool]] = []
    if unresolved is True:
        conditions.append(JobFailure.resolved_at.is_(None))
    elif unresolved is False:
        conditions.append(JobFailure.resolved_at.is_not(None))
    if job_name:
        conditions.append(JobFailure.job_name == job_name)
    stmt = newest_first(
        select(JobFailure).where(*conditions), JobFailure.failed_at, JobFailure.id, after, limit
    )
    rows = (await session.execute(stmt)).scalars().all()
    return page(rows, limit, lambda f: Position(f.failed_at, f.id))


async def open_failures_of(session: AsyncSession, key: str, *, scan: int = 500) -> list[JobFailure]:
    """The open failures among the ``scan`` newest whose job was called with ``key`` (an order
    id, a payment id...): what an order's page offers to retry. The open dead letter is small
    (an incident when it is not), so it is read newest first and filtered here."""
    stmt = (
        select(JobFailure)
        .where(JobFailure.resolved_at.is_(None))
        .order_by(JobFailure.failed_at.desc(), JobFailure.id.desc())
        .limit(scan)
    )
    rows = (await session.execute(stmt)).scalars().all()
    return [f for f in rows if isinstance(f.args, list) and any(str(a) == key for a in f.args)]


RETRIED = "retried"


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    failure: JobFailure | None  # None: no such failure
    enqueued: bool  # False: it was already resolved (retried before), nothing sent
    known_job: bool = True  # False: this code has no actor of that name any more


async def retry_failure(
    session: AsyncSession, failure_id: int, *, by: uuid.UUID | None
) -> RetryOutcome:
    """Re-enqueue a dead-lettered job once and mark the failure resolved.

    The conditional UPDATE decides: of two concurrent retries exactly one resolves the row and
    enqueues (after the caller's commit, like every job); the other changes nothing. Jobs are
    idempotent, so the retried run picks up wherever the rows say the work stands.
    """
    failure = await session.get(JobFailure, failure_id)
    if failure is None:
        return RetryOutcome(None, False)
    if failure.job_name not in all_actors():
        return RetryOutcome(failure, False, known_job=False)
    result = await session.execute(
        update(JobFailure)
        .where(JobFailure.id == failure_id, JobFailure.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolution=RETRIED, resolved_by=by)
        .execution_options(synchronize_session=False)
    )
    enqueued = getattr(result, "rowcount", 0) == 1
    if enqueued:
        args = failure.args if isinstance(failure.args, list) else []
        enqueue_job(failure.job_name, *args)
    await session.refresh(failure)
    return RetryOutcome(failure, enqueued)


class JobFailureNotFound(NotFound):
    default_code = "JOB_FAILURE_NOT_FOUND"


class UnknownJob(Conflict):
    default_code = "UNKNOWN_JOB"


async def retry_dead_letter(
    session: AsyncSession, failure_id: int, *, by: uuid.UUID | None
) -> tuple[JobFailure, bool]:
    """``retry_failure`` for an operator: the failure and whether the job was sent now.

    Raises: JobFailureNotFound (404); UnknownJob (409: this code has no such job any more)."""
    outcome = await retry_failure(session, failure_id, by=by)
    if outcome.failure is None:
        raise JobFailureNotFound(f"job failure {failure_id} not found")
    if not outcome.known_job:
        raise UnknownJob(f"job {outcome.failure.job_name!r} no longer exists; it cannot be retried")
    return outcome.failure, outcome.enqueued
