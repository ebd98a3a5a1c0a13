"""The outbox: ``enqueue_notification`` for the workers, claim/settle for the sender.

Exactly-once bookkeeping: a row is *claimed* by pushing its ``next_attempt_at`` past now (a lease)
with a guarded UPDATE (``... WHERE status = 'pending' AND next_attempt_at <= now``), preceded on
PostgreSQL by ``SELECT ... FOR UPDATE SKIP LOCKED``, so two senders never hold the same row; it is
marked ``sent`` once, by the holder, with a guarded UPDATE too. A sender that dies mid-way loses
its lease and the row becomes due again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models import NotificationOutbox, OutboxStatus
from tronrent.notification.events import OPERATOR_EVENTS, NotificationEvent

_LAST_ERROR_LENGTH = 500


async def enqueue_notification(
    session: AsyncSession,
    *,
    event: NotificationEvent | str,
    chat_id: int | None,
    bot_id: uuid.UUID | None,
    payload: dict[str, Any],
    dedupe_key: str,
    user_id: uuid.UUID | None = None,
    order_id: str | None = None,
) -> bool:
    """Queue a message in the caller's transaction; False when ``dedupe_key`` was already queued.

    Customers: give ``chat_id`` (or ``user_id`` and the sender finds the chat of ``bot_id``).
    Operator alerts: ``chat_id=None, user_id=None`` (sent to ``TELEGRAM_ADMIN_CHAT_ID``).
    ``dedupe_key`` names the fact once, e.g. ``f"order:{order_id}:energy_delivered"``.
    """
    if order_id is None and isinstance(payload.get("order_id"), str):
        order_id = payload["order_id"]
    values = {
        "event_type": str(event),
        "chat_id": chat_id,
        "bot_id": bot_id,
        "user_id": user_id,
        "order_id": order_id,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(NotificationOutbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(NotificationOutbox.id)
    )
    result = await session.execute(statement)
    return result.scalar_one_or_none() is not None


@dataclass(frozen=True)
class OutboxItem:
    """A claimed outbox row, detached from the session."""

    id: int
    event: str
    chat_id: int | None
    user_id: uuid.UUID | None
    bot_id: uuid.UUID | None
    order_id: str | None
    payload: dict[str, Any]
    attempts: int

    @property
    def is_operator_alert(self) -> bool:
        """An operator event, or a row addressed to nobody that belongs to no order (a customer
        event of a walk-in order has no chat either, but must not reach the admin chat)."""
        if self.event in OPERATOR_EVENTS:
            return True
        return self.chat_id is None and self.user_id is None and self.order_id is None


async def claim_due(
    session: AsyncSession, *, limit: int, lease: timedelta, now: datetime | None = None
) -> list[OutboxItem]:
    """Claim up to ``limit`` due pending rows (oldest first) for ``lease``."""
    now = now or utcnow()
    candidates = (
        select(NotificationOutbox.id)
        .where(
            NotificationOutbox.status == OutboxStatus.PENDING,
            NotificationOutbox.next_attempt_at <= now,
        )
        .order_by(NotificationOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serializes writers anyway
    )
    ids = list((await session.execute(candidates)).scalars())
    if not ids:
        return []
    claimed = await session.execute(
        update(NotificationOutbox)
        .where(
            NotificationOutbox.id.in_(ids),
            NotificationOutbox.status == OutboxStatus.PENDING,
            NotificationOutbox.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + lease, attempts=NotificationOutbox.attempts + 1)
        .returning(
            NotificationOutbox.id,
            NotificationOutbox.event_type,
            NotificationOutbox.chat_id,
            NotificationOutbox.user_id,
            NotificationOutbox.bot_id,
            NotificationOutbox.order_id,
            NotificationOutbox.payload,
            NotificationOutbox.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    items = [
        OutboxItem(
            id=row.id,
            event=row.event_type,
            chat_id=row.chat_id,
            user_id=row.user_id,
            bot_id=row.bot_id,
            order_id=row.order_id,
            payload=dict(row.payload or {}),
            attempts=row.attempts,
        )
        for row in claimed
    ]
    items.sort(key=lambda item: item.id)
    return items


async def mark_sent(session: AsyncSession, item_id: int, *, now: datetime | None = None) -> bool:
    """Settle a claimed row as sent; False if it was not pending any more."""
    result = await session.execute(
        update(NotificationOutbox)
        .where(NotificationOutbox.id == item_id, NotificationOutbox.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENT, sent_at=now or utcnow(), last_error=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def reschedule(
    session: AsyncSession,
    item_id: int,
    *,
    at: datetime,
    error: str | None,
    count_attempt: bool = True,
) -> None:
    """Give a claimed row back, due again at ``at`` (``count_attempt=False``: the bot was down)."""
    values: dict[str, Any] = {"next_attempt_at": at, "last_error": _clip(error)}
    if not count_attempt:
        values["attempts"] = NotificationOutbox.attempts - 1
    await session.execute(
        update(NotificationOutbox)
        .where(NotificationOutbox.id == item_id, NotificationOutbox.status == OutboxStatus.PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def mark_failed(session: AsyncSession, item_id: int, *, error: str) -> None:
    """Give up on a row (permanent error or retry budget spent); it stays visible with its error."""
    await session.execute(
        update(NotificationOutbox)
        .where(NotificationOutbox.id == item_id, NotificationOutbox.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED, last_error=_clip(error))
        .execution_options(synchronize_session=False)
    )


def _clip(text: str | None) -> str | None:
    return text[:_LAST_ERROR_LENGTH] if text else None


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
