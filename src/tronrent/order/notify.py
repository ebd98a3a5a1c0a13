"""Customer events of an order, written to `notification_outbox` in the caller's transaction.

Every event has a dedupe key (`order:<id>:<event>`), so a retried job never queues it twice.
The Telegram side delivers the rows; an order without a chat (walk-in) is still recorded, with
no chat id, so operators see every event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import NewRows, insert_new_rows, new_rows, write_rows
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order

#: (order, event, payload)
OrderEvent = tuple[Order, str, dict[str, Any]]
#: the events just queued, [(order, event, payload with the order fields, dedupe key)] -> the
#: rows the listener writes with them, in the same transaction (the merchant callbacks' outbox
#: listens here)
EventTap = Callable[[list[tuple[Order, str, dict[str, Any], str]]], Sequence[NewRows]]
_TAPS: list[EventTap] = []


def add_event_tap(tap: EventTap) -> None:
    """Have ``tap`` see every order event when it is queued (once per dedupe key), and write
    the rows it returns in the transaction that queues it. Idempotent per tap. The order
    domain never imports the listeners (dependencies point one way): they register
    themselves."""
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
    a batch of payments costs one statement, not one per order. ``suffixes``: a dedupe suffix
    per event (an event that may happen many times per order, e.g. per use), instead of
    ``dedupe_suffix`` for all. The dedupe keys actually queued (an event already queued is
    left out)."""
    rows = _rows(events, dedupe_suffix, suffixes)
    queued = await insert_new_rows(
        session,
        NotificationOutbox,
        list(rows.values()),
        conflict=["dedupe_key"],
        returning=["dedupe_key"],
    )
    keys = {str(k) for (k,) in queued}
    if _TAPS and keys:
        await write_rows(
            session, _tapped(events, [r for r in rows.values() if r["dedupe_key"] in keys])
        )
    return keys


def new_order_event_rows(events: Sequence[OrderEvent]) -> list[NewRows]:
    """`notify_orders` of orders this transaction has just created, as rows to write later
    in it (with another statement: `kit.db.along_ctes`): their outbox rows and the rows the
    taps add. Every event of a new order is new (its dedupe key names the order), so every
    tap sees them all; a conflict would still be skipped by the outbox's unique key."""
    rows = _rows(events, "", None)
    outbox = new_rows(NotificationOutbox, rows.values(), conflict=["dedupe_key"])
    return [outbox, *_tapped(events, list(rows.values()))]


def _rows(
    events: Sequence[OrderEvent], dedupe_suffix: str, suffixes: Sequence[str] | None
) -> dict[str, dict[str, Any]]:
    if suffixes is not None and len(suffixes) != len(events):
        raise ValueError("one dedupe suffix per event")
    rows: dict[str, dict[str, Any]] = {}
    for i, (order, event, payload) in enumerate(events):
        row = _row(order, event, payload, suffixes[i] if suffixes else dedupe_suffix)
        rows.setdefault(row["dedupe_key"], row)  # first wins, like sequential inserts
    return rows


def _tapped(events: Sequence[OrderEvent], fresh: list[dict[str, Any]]) -> list[NewRows]:
    """The rows every tap adds for the ``fresh`` outbox rows of ``events``."""
    if not _TAPS or not fresh:
        return []
    orders = {order.id: order for order, _, _ in events}
    seen = [(orders[r["order_id"]], r["event_type"], r["payload"], r["dedupe_key"]) for r in fresh]
    return [batch for tap in _TAPS for batch in tap(seen) if batch.rows]


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
