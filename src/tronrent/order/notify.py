"""Customer events of an order, written to `notification_outbox` in the caller's transaction.

Every event has a dedupe key (`order:<id>:<event>`), so a retried job never queues it twice.
The Telegram side delivers the rows; an order without a chat (walk-in) is still recorded, with
no chat id, so operators see every event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import insert_new_rows
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order

#: (order, event, payload)
OrderEvent = tuple[Order, str, dict[str, Any]]
#: (session, [(order, event, payload with the order fields, dedupe key)]) of the events just
#: queued - called in the same transaction (the merchant callbacks' outbox listens here)
EventTap = Callable[[AsyncSession, list[tuple[Order, str, dict[str, Any], str]]], Awaitable[None]]
_TAPS: list[EventTap] = []


def add_event_tap(tap: EventTap) -> None:
    """Have ``tap`` see every order event when it is queued (once per dedupe key), in the
    transaction that queues it. Idempotent per tap. The order domain never imports the
    listeners (dependencies point one way): they register themselves."""
    if tap not in _TAPS:
        _TAPS.append(tap)


def _package_name(order: Order) -> dict[str, str]:
    """``package_name`` of a package order (its package as sold: the order's price snapshot),
    so every text of the order can name it; nothing for other orders."""
    package = (order.price_config or {}).get("package")
    name = package.get("name") if isinstance(package, dict) else None
    return {"package_name": name} if isinstance(name, str) else {}


def _row(order: Order, event: str, payload: dict[str, Any], suffix: str) -> dict[str, Any]:
    return {
        "event_type": event,
        "user_id": order.user_id,
        "chat_id": order.chat_id,
        "bot_id": order.bot_id,
        "order_id": order.id,
        "payload": {
            "order_id": order.id,
            "status": order.status.value if order.status else None,
            "recipient_address": order.target_address,
            # the text differs per order type, amounts are in the order's currency
            "order_type": order.order_type.value if order.order_type else None,
            "currency": order.currency.value if order.currency else None,
            **_package_name(order),
            **payload,
        },
        "dedupe_key": f"order:{order.id}:{event}{suffix}",
    }


async def notify_orders(
    session: AsyncSession,
    events: Sequence[OrderEvent],
    *,
    dedupe_suffix: str = "",
    suffixes: Sequence[str] | None = None,
) -> set[str]:
    """Queue many events with one INSERT ... ON CONFLICT DO NOTHING (see `insert_new_rows`):
    a batch of payments costs one statement, not one per order. The dedupe keys
    actually queued (an event already queued is left out). ``suffixes``: one dedupe suffix per
    event (an event an order has many times: each use of a count package) instead of
    ``dedupe_suffix`` for all."""
    rows: dict[str, dict[str, Any]] = {}
    for i, (order, event, payload) in enumerate(events):
        row = _row(order, event, payload, suffixes[i] if suffixes else dedupe_suffix)
        rows.setdefault(row["dedupe_key"], row)  # first wins, like sequential inserts
    queued = await insert_new_rows(
        session,
        NotificationOutbox,
        list(rows.values()),
        conflict=["dedupe_key"],
        returning=["dedupe_key"],
    )
    keys = {str(k) for (k,) in queued}
    if _TAPS and keys:
        fresh = [r for r in rows.values() if r["dedupe_key"] in keys]
        orders = {order.id: order for order, _, _ in events}
        seen = [
            (orders[r["order_id"]], r["event_type"], r["payload"], r["dedupe_key"]) for r in fresh
        ]
        for tap in _TAPS:
            await tap(session, seen)
    return keys


async def notify_order(
    session: AsyncSession,
    order: Order,
    event: str,
    payload: dict[str, Any],
    *,
    dedupe_suffix: str = "",
) -> bool:
    """Queue `event` for the order's customer; False if it was already queued."""
    return bool(
        await notify_orders(session, [(order, event, payload)], dedupe_suffix=dedupe_suffix)
    )
