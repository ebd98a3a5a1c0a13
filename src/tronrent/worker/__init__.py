"""Job queue wrapper (taskiq): `actor`, `enqueue_job` (after commit), retries, dead letters."""

from tronrent.worker._batch import Coalescer, split_on_failure
from tronrent.worker._context import (
    WorkerContext,
    WorkerNotConfigured,
    get_worker_context,
    set_worker_context,
)
from tronrent.worker._cron import run_periodic
from tronrent.worker._deadletter import (
    RetryOutcome,
    failures_page,
    list_failures,
    open_failures_of,
    record_failure,
    retry_dead_letter,
    retry_failure,
)
from tronrent.worker._enqueue import (
    NoJobScope,
    PendingJob,
    enqueue_job,
    has_job_scope,
    install_session_events,
    job_scope,
)
from tronrent.worker._queue import (
    ActorSpec,
    JobQueue,
    Priority,
    Retry,
    actor,
    all_actors,
    get_actor,
    get_job_queue,
    has_job_queue,
    run_job,
    set_job_queue,
)
from tronrent.worker._sqlalchemy import AsyncSessionMaker

__all__ = [
    "ActorSpec",
    "AsyncSessionMaker",
    "Coalescer",
    "JobQueue",
    "NoJobScope",
    "PendingJob",
    "Priority",
    "Retry",
    "RetryOutcome",
    "WorkerContext",
    "WorkerNotConfigured",
    "actor",
    "all_actors",
    "enqueue_job",
    "failures_page",
    "get_actor",
    "get_job_queue",
    "get_worker_context",
    "has_job_queue",
    "has_job_scope",
    "install_session_events",
    "job_scope",
    "list_failures",
    "open_failures_of",
    "record_failure",
    "retry_dead_letter",
    "retry_failure",
    "run_job",
    "run_periodic",
    "set_job_queue",
    "set_worker_context",
    "split_on_failure",
]
