"""Jobs enqueued during a transaction are sent only after it commits.

`enqueue_job(name, *ids)` appends to a buffer held in a context variable. SQLAlchemy session
events move the buffered jobs to "ready" when a session commits and drop them when it rolls
back; the owner of the scope (`job_scope`: request middleware, job runner, scanner loop) sends
the ready ones when the scope ends. A job enqueued outside any scope is an error: it would be
sent before its rows exist, or after a rollback.

A job that cannot be sent when the scope ends (Redis away) is logged and counted
(``tronrent_errors_total{component="worker"}``), never raised: its transaction has committed,
so the caller's work is done and must be answered as done, and every job is a step the
periodic sweeps find again in the database (docs/operations.md, "Redis restarting").
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tronrent.kit.metrics import ERRORS

log = logging.getLogger(__name__)

JobArg = str | int


@dataclass(frozen=True)
class PendingJob:
    name: str
    args: tuple[JobArg, ...]


@dataclass
class JobBuffer:
    pending: list[PendingJob] = field(default_factory=list)
    ready: list[PendingJob] = field(default_factory=list)

    def commit(self) -> None:
        self.ready.extend(self.pending)
        self.pending.clear()

    def rollback(self) -> None:
        if self.pending:
            log.debug("discarding %d job(s) of a rolled back transaction", len(self.pending))
        self.pending.clear()


class NoJobScope(RuntimeError):
    """`enqueue_job` was called outside `job_scope()`."""


_buffer: ContextVar[JobBuffer | None] = ContextVar("tronrent_job_buffer", default=None)

Sender = Callable[[PendingJob], Awaitable[None]]


def enqueue_job(name: str, *args: JobArg) -> None:
    """Buffer job `name(*args)`; it is sent once the current transaction commits."""
    buf = _buffer.get()
    if buf is None:
        raise NoJobScope(f"enqueue_job({name!r}) outside a job scope")
    buf.pending.append(PendingJob(name, tuple(args)))


def has_job_scope() -> bool:
    return _buffer.get() is not None


@asynccontextmanager
async def job_scope(send: Sender | None = None) -> AsyncIterator[JobBuffer]:
    """Open a buffer; on exit send every job whose transaction committed, drop the rest.

    `send` defaults to the configured job queue. Nested scopes share the outer buffer.
    """
    outer = _buffer.get()
    if outer is not None:
        yield outer
        return
    buf = JobBuffer()
    token = _buffer.set(buf)
    try:
        yield buf
    finally:
        _buffer.reset(token)
        jobs, buf.ready = buf.ready, []
        buf.pending.clear()
        if jobs:
            if send is None:
                from tronrent.worker._queue import get_job_queue

                send = get_job_queue().send
            for job in jobs:
                try:
                    await send(job)
                except Exception as exc:  # committed work: the sweeps re-drive it
                    ERRORS.labels(component="worker").inc()
                    log.warning(
                        "job %s%s not queued (%s: %s): the periodic sweep re-drives it",
                        job.name,
                        job.args,
                        type(exc).__name__,
                        exc,
                    )


def _on_commit(session: Session) -> None:
    buf = _buffer.get()
    if buf is not None:
        buf.commit()


def _on_rollback(session: Session) -> None:
    buf = _buffer.get()
    if buf is not None:
        buf.rollback()


def install_session_events() -> None:
    """Tie buffered jobs to the commit/rollback of every SQLAlchemy session (idempotent)."""
    if not event.contains(Session, "after_commit", _on_commit):
        event.listen(Session, "after_commit", _on_commit)
        event.listen(Session, "after_soft_rollback", _soft_rollback)


def _soft_rollback(session: Session, previous_transaction: Any) -> None:
    # after_soft_rollback fires for every rollback() call, also on a transaction that never
    # reached the database; only the outermost one ends the unit of work.
    if previous_transaction.parent is None:
        _on_rollback(session)


install_session_events()
