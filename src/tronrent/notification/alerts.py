"""Operator alerts (to ``TELEGRAM_ADMIN_CHAT_ID``), queued in the caller's transaction.

Each names its fact once in the dedupe key, so a retried job never alerts twice; a pool that
stays low is reminded at most once per ``POOL_LOW_REMINDER`` window, one that stays unusable once
per ``POOL_UNUSABLE_REMINDER``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.notification.events import NotificationEvent
from tronrent.notification.service import enqueue_notification

#: a pool below this much delegatable energy cannot serve one order of 10 transfers
POOL_LOW_ENERGY = 700_000
POOL_LOW_REMINDER = timedelta(hours=1)
POOL_UNUSABLE_REMINDER = timedelta(hours=24)
_ERROR_LENGTH = 300


async def _alert(
    session: AsyncSession, event: NotificationEvent, payload: dict[str, object], key: str
) -> bool:
    return await enqueue_notification(
        session, event=event, chat_id=None, bot_id=None, payload=payload, dedupe_key=key
    )


async def _pool_alert(
    session: AsyncSession,
    event: NotificationEvent,
    key: str,
    every: timedelta,
    *,
    pool_name: str,
    pool_address: str,
    **fields: object,
) -> bool:
    """A pool's alert, once per ``every`` window (``key`` + the window's number dedupes it)."""
    window = int(utcnow().timestamp() // every.total_seconds())
    return await _alert(
        session,
        event,
        {"pool_name": pool_name, "pool_address": pool_address, **fields},
        f"{key}:{window}",
    )


async def pool_low(
    session: AsyncSession,
    *,
    pool_id: uuid.UUID,
    pool_name: str,
    pool_address: str,
    available_energy: int,
    threshold: int = POOL_LOW_ENERGY,
) -> bool:
    """Alert when ``available_energy`` is below ``threshold`` (once per reminder window)."""
    if available_energy >= threshold:
        return False
    return await _pool_alert(
        session,
        NotificationEvent.POOL_LOW,
        f"pool_low:{pool_id}",
        POOL_LOW_REMINDER,
        pool_name=pool_name,
        pool_address=pool_address,
        available_energy=available_energy,
        threshold=threshold,
    )


async def pool_unusable(
    session: AsyncSession,
    *,
    pool_id: uuid.UUID,
    pool_name: str,
    pool_address: str,
    flag: str,
    detail: str,
) -> bool:
    """A pool is flagged unusable (``flag``: account_missing, no_stake, key_mismatch, unchecked;
    shown as ``reason.<flag>``): once per ``POOL_UNUSABLE_REMINDER`` window while it stays so,
    however many syncs (or concurrent workers) see it."""
    return await _pool_alert(
        session,
        NotificationEvent.POOL_UNUSABLE,
        f"pool_unusable:{pool_id}:{flag}",
        POOL_UNUSABLE_REMINDER,
        pool_name=pool_name,
        pool_address=pool_address,
        reason=flag,
        detail=detail[:_ERROR_LENGTH],
    )


async def delegation_failing(
    session: AsyncSession,
    *,
    delegation_id: int | uuid.UUID,
    order_id: str,
    pool_address: str | None,
    error: str | None,
    attempts: int | None = None,
) -> bool:
    """A delegation transaction failed or expired (the order may still try another pool)."""
    return await _alert(
        session,
        NotificationEvent.DELEGATION_FAILING,
        {
            "order_id": order_id,
            "pool_address": pool_address,
            "error": error[:_ERROR_LENGTH] if error else None,
            "attempts": attempts,
        },
        f"delegation_failing:{delegation_id}",
    )


#: dedupe key of the limbo alert of an order: ``LIMBO_KEY_PREFIX + order_id`` (one per order;
#: delegation.limbo reads it to leave alerted orders out)
LIMBO_KEY_PREFIX = "order_in_limbo:"


async def order_in_limbo(
    session: AsyncSession,
    *,
    order_id: str,
    status: str,
    reason: str | None,
    blocks: int,
    recipient: str | None = None,
) -> bool:
    """A paid order is neither delivered nor refunded ``blocks`` blocks after its payment
    (see delegation.limbo): once per order."""
    return await _alert(
        session,
        NotificationEvent.ORDER_IN_LIMBO,
        {
            "order_id": order_id,
            "status": status,
            "reason": reason[:_ERROR_LENGTH] if reason else None,
            "blocks": blocks,
            "recipient": recipient,
        },
        f"{LIMBO_KEY_PREFIX}{order_id}",
    )


async def job_dead_lettered(
    session: AsyncSession, *, job_name: str, job_id: int | str, error: str
) -> bool:
    """A job exhausted its retries (a ``job_failures`` row)."""
    return await _alert(
        session,
        NotificationEvent.JOB_DEAD_LETTERED,
        {"job_name": job_name, "job_id": str(job_id), "error": error[:_ERROR_LENGTH]},
        f"job_dead_lettered:{job_id}",
    )
