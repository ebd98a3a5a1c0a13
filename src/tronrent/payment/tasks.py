"""Payment jobs: process recorded payments (a batch), send a refund."""

from __future__ import annotations

from tronrent.delegation.deps import flow_deps
from tronrent.kit.db import transaction_scope
from tronrent.payment.refund import refund_payments
from tronrent.payment.service import PROCESS_JOB
from tronrent.payment.service import payment as payment_service
from tronrent.worker import Priority, actor, enqueue_job, split_on_failure

REFUND_JOB = "payment.refund_payment"


@actor(PROCESS_JOB, priority=Priority.HIGH, max_retries=8, max_backoff_s=5)
async def process_payment(*payment_ids: int) -> None:
    """A batch of payment ids (a scanned block's, the sweeper's) or one (a deferred payment, a
    dead letter retried), applied in one transaction. A batch that fails is split into one job
    per payment (`split_on_failure`)."""
    d = flow_deps()
    ids = [int(p) for p in payment_ids]

    async def process() -> None:
        async with transaction_scope(d.session_maker) as s:  # a failure drops its jobs too
            await payment_service.process_many(s, d.rt, ids)

    await split_on_failure(PROCESS_JOB, ids, process, d.session_maker)


@actor(REFUND_JOB, priority=Priority.MEDIUM, max_retries=8, max_backoff_s=30)
async def refund_payment(*payment_ids: int) -> None:
    """One payment (the sweeper's, a dead letter retried) or a batch (the refunds the scanner
    confirmed in one block). Nothing waits for a block. A payment of a batch that must wait is
    retried as a job of its own; a batch that fails is split (`split_on_failure`)."""
    d = flow_deps()
    ids = [int(p) for p in payment_ids]

    async def refund() -> None:
        waiting = await refund_payments(d, ids)
        if waiting:
            async with transaction_scope(d.session_maker):  # the jobs go out once it commits
                for pid in waiting:
                    enqueue_job(REFUND_JOB, pid)

    await split_on_failure(REFUND_JOB, ids, refund, d.session_maker)
