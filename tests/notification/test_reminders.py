"""The rental-ending notice: queued once per order, RENTAL_ENDING_NOTICE_SECONDS before the end,
never for a rental not longer than that, never for an order that is not active."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models import NotificationOutbox
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.notification.messages import render
from tronrent.notification.reminders import dedupe_key, queue_rental_ending_notices

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
NOTICE = 600.0
RECIPIENT = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


async def _rental(
    session: AsyncSession,
    pool: EnergyPool,
    *,
    ends_in: float,
    hours: int = 1,
    status: OrderStatus = OrderStatus.ACTIVE,
    delegation: DelegationStatus = DelegationStatus.SUCCESS,
) -> Order:
    order_id = f"FLASH_1704067200000_{uuid.uuid4().hex[:9]}"
    order = Order(
        id=order_id,
        order_number=order_id,
        order_type=OrderType.ENERGY_FLASH,
        status=status,
        duration_hours=hours,
        target_address=RECIPIENT,
        chat_id=77,
    )
    session.add(order)
    await session.flush()
    # two delegations: the rental ends with the later one
    for shift in (0.0, -30.0):
        session.add(
            EnergyDelegation(
                order_id=order.id,
                pool_account_id=pool.id,
                recipient_address=RECIPIENT,
                energy_amount=65_000,
                status=delegation,
                delegated_at=NOW,
                expires_at=NOW + timedelta(seconds=ends_in + shift),
            )
        )
    await session.flush()
    return order


async def _pool(session: AsyncSession) -> EnergyPool:
    pool = EnergyPool(
        name="p", tron_address=f"TPool{uuid.uuid4().hex[:8]}", private_key_encrypted="x"
    )
    session.add(pool)
    await session.flush()
    return pool


def _hours(order: Order) -> float:
    return order.duration_hours * 3600.0


async def test_told_once_within_the_notice(session: AsyncSession) -> None:
    pool = await _pool(session)
    soon = await _rental(session, pool, ends_in=599)
    later = await _rental(session, pool, ends_in=601)
    over = await _rental(session, pool, ends_in=-1)
    reclaiming = await _rental(session, pool, ends_in=100, status=OrderStatus.RECLAIMING)
    failed = await _rental(session, pool, ends_in=100, delegation=DelegationStatus.FAILED)
    told = await queue_rental_ending_notices(session, notice_s=NOTICE, rental_s=_hours, now=NOW)
    assert told == [soon.id]
    # again (a retried job, the next period, a second worker): nobody twice
    assert (
        await queue_rental_ending_notices(session, notice_s=NOTICE, rental_s=_hours, now=NOW) == []
    )
    later_now = NOW + timedelta(seconds=2)
    told = await queue_rental_ending_notices(
        session, notice_s=NOTICE, rental_s=_hours, now=later_now
    )
    assert told == [later.id]
    rows = (
        (
            await session.execute(
                select(NotificationOutbox).where(NotificationOutbox.event_type == "rental_ending")
            )
        )
        .scalars()
        .all()
    )
    assert {r.order_id for r in rows} == {soon.id, later.id}
    assert not {over.id, reclaiming.id, failed.id} & {r.order_id for r in rows}
    row = next(r for r in rows if r.order_id == soon.id)
    assert row.dedupe_key == dedupe_key(soon.id) and row.chat_id == 77
    assert row.payload["seconds_left"] == 599
    assert row.payload["ends_at"].startswith("2026-12-04T10:09:59")
    en = render(row.event_type, row.payload, "en", strict=True)
    assert "reclaimed in 9 min 59 s (2026-12-04 10:09:59 UTC" in en and RECIPIENT in en
    zh = render(row.event_type, row.payload, "zh", strict=True)
    assert "9分钟59秒后回收" in zh


async def test_a_rental_not_longer_than_the_notice_is_not_told(session: AsyncSession) -> None:
    pool = await _pool(session)
    short = await _rental(session, pool, ends_in=15)

    def twenty_seconds(order: Order) -> float:
        return 20.0

    assert (
        await queue_rental_ending_notices(
            session, notice_s=NOTICE, rental_s=twenty_seconds, now=NOW
        )
        == []
    )
    # with a notice shorter than the rental it is told
    told = await queue_rental_ending_notices(session, notice_s=16, rental_s=twenty_seconds, now=NOW)
    assert told == [short.id]
