"""The callback delivery log, for operators: callbacks newest first with their attempts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.merchant import CallbackStatus, MerchantCallback, MerchantCallbackAttempt


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: list[MerchantCallback]
    #: the id to pass as ``before_id`` for the next (older) page; None on the last page
    next_before_id: int | None


async def page(
    session: AsyncSession,
    *,
    order_id: str | None = None,
    status: CallbackStatus | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> DeliveryPage:
    """Callbacks newest first (by id: the primary key, or ``idx_merchant_callbacks_order`` for
    one order's), older than ``before_id``."""
    stmt = select(MerchantCallback)
    if order_id is not None:
        stmt = stmt.where(MerchantCallback.order_id == order_id)
    if status is not None:
        stmt = stmt.where(MerchantCallback.status == status)
    if before_id is not None:
        stmt = stmt.where(MerchantCallback.id < before_id)
    stmt = stmt.order_by(MerchantCallback.id.desc()).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(rows, rows[-1].id if more and rows else None)


async def for_order(session: AsyncSession, order_id: str) -> Sequence[MerchantCallback]:
    """An order's callbacks, in order."""
    stmt = (
        select(MerchantCallback)
        .where(MerchantCallback.order_id == order_id)
        .order_by(MerchantCallback.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def attempts(
    session: AsyncSession, callbacks: Sequence[MerchantCallback]
) -> dict[int, list[MerchantCallbackAttempt]]:
    """The delivery attempts of ``callbacks``, in order, by callback id."""
    found: dict[int, list[MerchantCallbackAttempt]] = {c.id: [] for c in callbacks}
    if not found:
        return found
    rows = await session.execute(
        select(MerchantCallbackAttempt)
        .where(MerchantCallbackAttempt.callback_id.in_(list(found)))
        .order_by(MerchantCallbackAttempt.id)
    )
    for a in rows.scalars():
        found[a.callback_id].append(a)
    return found
