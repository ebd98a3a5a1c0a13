"""Payment jobs: process recorded payments (a batch), send a refund."""

from __future__ import annotations

import logging

from tronrent.delegation.deps import flow_deps
from tronrent.kit.db import transaction_scope
from tronrent.payment.refund import refund_payment as send_refund
from tronrent.payment.service import PROCESS_JOB
from tronrent.payment.service import payment as payment_service
from tronrent.worker import Priority, Retry, actor, enqueue_job

log = logging.getLogger("tronrent.payment")


@actor(PROCESS_JOB, priority=Priority.HIGH, max_retries=8, max_backoff_s=5)
async def process_payment(*payment_ids: int) -> None:
    """A batch of payment ids (a scanned block's, the sweeper's) or one (a deferred payment, a
    dead letter retried), applied in one transaction. A batch that fails is split into one job
    per payment, so a payment that cannot be processed holds back no other (each single job
    then retries and dead-letters on its own)."""
    d = flow_deps()
    ids = [int(p) for p in payment_ids]
    try:
        async with transaction_scope(d.session_maker) as s:  # a failure drops its jobs too
            await payment_service.process_many(s, d.rt, ids)
    except Retry:
        raise
    except Exception:
        if len(ids) < 2:
            raise
        log.exception("batch of %d payments failed; processing each on its own", len(ids))
        async with transaction_scope(d.session_maker):  # the jobs go out once it commits
            for pid in ids:
                enqueue_job(PROCESS_JOB, pid)


@actor("payment.refund_payment", priority=Priority.MEDIUM, max_retries=8, max_backoff_s=30)
async def refund_payment(payment_id: int) -> None:
    await send_refund(flow_deps(), int(payment_id))
