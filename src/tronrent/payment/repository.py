"""Payment queries. Recording is idempotent: INSERT ... ON CONFLICT DO NOTHING on the tx hash."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.payment import Payment, PaymentStatus


def upsert_insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT supporting ON CONFLICT (PostgreSQL and SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def insert_payment_if_new(session: AsyncSession, **values: Any) -> int | None:
    """Insert a payment; its id if the row is new, None if this transfer was already recorded."""
    stmt = (
        upsert_insert(session, Payment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tx_hash", "event_index"])
        .returning(Payment.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_tx(session: AsyncSession, tx_hash: str, event_index: int = 0) -> Payment | None:
    return (
        await session.execute(
            select(Payment).where(Payment.tx_hash == tx_hash, Payment.event_index == event_index)
        )
    ).scalar_one_or_none()


async def restore_orphaned(session: AsyncSession, tx_hash: str, **block: Any) -> Payment | None:
    """A transfer of a vanished block seen again on the new chain: back to its state."""
    payment = await get_by_tx(session, tx_hash)
    if payment is None or payment.status is not PaymentStatus.ORPHANED:
        return None
    payment.status = PaymentStatus.MATCHED if payment.order_id else PaymentStatus.RECEIVED
    for key, value in block.items():
        setattr(payment, key, value)
    return payment


async def orphan_payments(
    session: AsyncSession, from_block: int, canonical: dict[int, str]
) -> Sequence[int]:
    """Flag payments at or above `from_block` whose block is not on the canonical chain."""
    rows = (
        await session.execute(
            select(Payment.id, Payment.block_number, Payment.block_id).where(
                Payment.block_number >= from_block,
                Payment.status != PaymentStatus.ORPHANED,
            )
        )
    ).all()
    gone = [pid for pid, num, bid in rows if canonical.get(num) != bid]
    if gone:
        await session.execute(
            update(Payment)
            .where(Payment.id.in_(gone))
            .values(status=PaymentStatus.ORPHANED, note="block left the canonical chain")
            .execution_options(synchronize_session=False)
        )
    return gone
