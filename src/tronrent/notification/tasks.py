"""Notification jobs: the rental-ending reminders (periodic)."""

from __future__ import annotations

import logging

from tronrent.delegation.deps import flow_deps
from tronrent.notification.reminders import queue_rental_ending_notices
from tronrent.worker import Priority, actor

log = logging.getLogger("tronrent.notification")

REMINDERS_JOB = "notification.rental_reminders"


@actor(REMINDERS_JOB, priority=Priority.LOW, max_retries=0, period_s=5.0)
async def rental_reminders() -> None:
    """Tell customers their rental ends in RENTAL_ENDING_NOTICE_SECONDS (once per order)."""
    d = flow_deps()
    async with d.session_maker() as s:
        told = await queue_rental_ending_notices(
            s,
            notice_s=d.rt.rental_ending_notice_s,
            rental_s=lambda order: d.rt.rental_ms(order.duration_hours) / 1000,
        )
        await s.commit()
    if told:
        log.info("rental ending soon: %d customer(s) told", len(told))
