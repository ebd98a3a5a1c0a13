"""The rental-ending notice: "your rental ends in N min", once per order, before the end.

Run every few seconds by the ``notification.rental_reminders`` job: every active order whose
rental ends within ``notice_s`` (``RENTAL_ENDING_NOTICE_SECONDS``) gets a ``rental_ending``
event. Exactly once: the event's dedupe key ``order:<id>:rental_ending`` is UNIQUE in the outbox,
and orders that have it are not even selected again. A rental not longer than ``notice_s`` gets
no notice (it would arrive with, or before, the energy itself).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus
from tronrent.notification.events import NotificationEvent
from tronrent.order.notify import OrderEvent, notify_orders

#: orders looked at per run (a backlog drains over the next runs)
BATCH = 1000
EVENT = NotificationEvent.RENTAL_ENDING


def dedupe_key(order_id: str) -> str:
    return f"order:{order_id}:{EVENT.value}"


async def queue_rental_ending_notices(
    session: AsyncSession,
    *,
    notice_s: float,
    rental_s: Callable[[Order], float],
    now: datetime | None = None,
    limit: int = BATCH,
) -> list[str]:
    """Queue the notice of every active order ending within ``notice_s`` and not told yet, in
    the caller's transaction; ``rental_s(order)`` is the order's rental length (seconds). The
    ids of the orders told now."""
    now = now or utcnow()
    ends = func.max(EnergyDelegation.expires_at)
    told = exists().where(
        NotificationOutbox.dedupe_key == literal("order:") + Order.id + literal(f":{EVENT.value}")
    )
    rows = (
        await session.execute(
            select(Order, ends.label("ends_at"))
            .join(EnergyDelegation, EnergyDelegation.order_id == Order.id)
            .where(
                Order.status == OrderStatus.ACTIVE,
                EnergyDelegation.status == DelegationStatus.SUCCESS,
                EnergyDelegation.expires_at.is_not(None),
                ~told,
            )
            .group_by(Order.id)
            .having(ends > now, ends <= now + timedelta(seconds=notice_s))
            .order_by(ends)
            .limit(limit)
        )
    ).all()
    events: list[OrderEvent] = []
    for order, ends_at in rows:
        if ends_at is None or rental_s(order) <= notice_s:
            continue
        events.append(
            (
                order,
                EVENT.value,
                {
                    "ends_at": ends_at.isoformat(),
                    "seconds_left": max(1, round((ends_at - now).total_seconds())),
                },
            )
        )
    queued = await notify_orders(session, events)
    return [order.id for order, _, _ in events if dedupe_key(order.id) in queued]
