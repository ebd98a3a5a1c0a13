"""Payment jobs: process recorded payments (a batch), send a refund."""

from __future__ import annotations

from tronrent.delegation.deps import flow_deps
from tronrent.kit.db import transaction_scope
from tronrent.payment.refund import refund_payment as send_refund
from tronrent.payment.service import PROCESS_JOB
from tronrent.payment.service import payment as payment_service
from tronrent.worker import Priority, actor, split_on_failure


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


@actor("payment.refund_payment", priority=Priority.MEDIUM, max_retries=8, max_backoff_s=30)
async def refund_payment(payment_id: int) -> None:
    await send_refund(flow_deps(), int(payment_id))
