"""Customer events of an order, written to `notification_outbox` in the caller's transaction.

Every event has a dedupe key (`order:<id>:<event>`), so a retried job never queues it twice.
The Telegram side delivers the rows; an order without a chat (walk-in) is still recorded, with
no chat id, so operators see every event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order
from tronrent.payment.repository import upsert_insert


async def notify_order(
    session: AsyncSession,
    order: Order,
    event: str,
    payload: dict[str, Any],
    *,
    dedupe_suffix: str = "",
) -> bool:
    """Queue `event` for the order's customer; False if it was already queued."""
    body = {
        "order_id": order.id,
        "status": order.status.value if order.status else None,
        "recipient_address": order.target_address,
        **payload,
    }
    key = f"order:{order.id}:{event}{dedupe_suffix}"
    stmt = (
        upsert_insert(session, NotificationOutbox)
        .values(
            event_type=event,
            user_id=order.user_id,
            chat_id=order.chat_id,
            bot_id=order.bot_id,
            order_id=order.id,
            payload=body,
            dedupe_key=key,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(NotificationOutbox.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
