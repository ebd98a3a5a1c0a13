"""Payment jobs: process a recorded payment, send a refund."""

from __future__ import annotations

from tronrent.delegation.deps import flow_deps
from tronrent.payment.refund import refund_payment as send_refund
from tronrent.payment.service import payment as payment_service
from tronrent.worker import Priority, actor


@actor("payment.process_payment", priority=Priority.HIGH, max_retries=8, max_backoff_s=5)
async def process_payment(payment_id: int) -> None:
    d = flow_deps()
    async with d.session_maker() as s:
        await payment_service.process(s, d.rt, int(payment_id))
        await s.commit()


@actor("payment.refund_payment", priority=Priority.MEDIUM, max_retries=8, max_backoff_s=30)
async def refund_payment(payment_id: int) -> None:
    await send_refund(flow_deps(), int(payment_id))
