"""The limbo invariant, written once: no order that received money is left without an outcome.

Every paid order reaches, within a bounded time, one of: energy delivered (active, reclaiming,
completed), the money refunded on chain (refunded), a policy outcome the customer was told
(underpaid and kept), or a state operators were alerted to with its true reason (an
``order_in_limbo`` alert naming its status and reason). `orders_in_limbo` is the query for the
orders that broke it: paid before ``paid_before`` and none of those. The sweeper runs it every
sweep and alerts once per order (`alert_orders_in_limbo`); the tests assert it is empty at the
end of the flash scenarios.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.notification import alerts

#: paid, and still on the way to an outcome
_UNSETTLED = (
    OrderStatus.PAID,
    OrderStatus.DELEGATING,
    OrderStatus.FAILED,
    OrderStatus.REFUNDING,
)
#: at most this many orders alerted per sweep (the next sweep goes on)
LIMBO_BATCH = 200


def paid_before(block_interval_ms: int, blocks: int, now: datetime | None = None) -> datetime:
    """The payment time before which an order without an outcome is in limbo."""
    return (now or utcnow()) - timedelta(milliseconds=block_interval_ms * blocks)


def _in_limbo(cutoff: datetime, include_alerted: bool) -> list[object]:
    refund_owed = exists().where(
        Payment.order_id == Order.id, Payment.status == PaymentStatus.REFUNDING
    )
    conditions: list[object] = [
        Order.paid_at.is_not(None),
        Order.paid_at < cutoff,
        or_(
            Order.status.in_(_UNSETTLED),
            # underpaid: kept by policy is an outcome; a refund owed is not yet
            and_(Order.status == OrderStatus.UNDERPAID, refund_owed),
        ),
    ]
    if not include_alerted:
        conditions.append(
            ~exists().where(NotificationOutbox.dedupe_key == alerts.LIMBO_KEY_PREFIX + Order.id)
        )
    return conditions


async def orders_in_limbo(
    session: AsyncSession,
    *,
    paid_before: datetime,
    include_alerted: bool = False,
    limit: int = LIMBO_BATCH,
) -> Sequence[Order]:
    """Orders paid before ``paid_before`` that are neither delivered, nor refunded, nor settled
    by a policy - and (unless ``include_alerted``) that operators were not alerted to yet."""
    stmt = (
        select(Order)
        .where(*_in_limbo(paid_before, include_alerted))  # type: ignore[arg-type]
        .order_by(Order.paid_at, Order.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


@dataclass(frozen=True, slots=True)
class LimboFigures:
    #: paid before the alert cutoff, no outcome (alerted or not): in limbo
    in_limbo: int
    #: paid before now, no outcome yet (in limbo or on the way)
    unsettled: int
    #: the payment time of the oldest of those
    oldest: datetime | None


async def limbo_figures(
    session: AsyncSession, *, paid_before: datetime, now: datetime
) -> LimboFigures:
    """How many orders are in limbo at ``paid_before`` (alerted or not), how many are without
    an outcome at ``now`` and the oldest one's payment time: one read of the orders without
    an outcome (those in limbo are the ones of them paid before ``paid_before``)."""
    in_limbo = func.coalesce(func.sum(case((Order.paid_at < paid_before, 1), else_=0)), 0)
    row = (
        await session.execute(
            select(in_limbo, func.count(), func.min(Order.paid_at)).where(
                *_in_limbo(now, include_alerted=True)  # type: ignore[arg-type]
            )
        )
    ).one()
    return LimboFigures(int(row[0] or 0), int(row[1] or 0), row[2])


async def alert_orders_in_limbo(
    session: AsyncSession, *, paid_before: datetime, blocks: int
) -> list[str]:
    """One operator alert per order newly found in limbo (status and true reason); the ids."""
    found = await orders_in_limbo(session, paid_before=paid_before)
    for order in found:
        await alerts.order_in_limbo(
            session,
            order_id=order.id,
            status=order.status.value,
            reason=order.status_reason,
            blocks=blocks,
            recipient=order.target_address,
        )
    return [o.id for o in found]


__all__ = [
    "LimboFigures",
    "alert_orders_in_limbo",
    "limbo_figures",
    "orders_in_limbo",
    "paid_before",
]
