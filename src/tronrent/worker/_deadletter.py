"""The dead letter: a job that exhausted its retries becomes a `job_failures` row."""

from __future__ import annotations

from sqlalchemy import select

from tronrent.models.job_failure import JobFailure
from tronrent.notification import alerts
from tronrent.worker._context import get_worker_context
from tronrent.worker._enqueue import JobArg
from tronrent.worker._queue import ActorSpec


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
