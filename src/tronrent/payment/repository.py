"""Payment queries. Recording is idempotent: INSERT ... ON CONFLICT DO NOTHING on the tx hash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import insert_new_rows, upsert_insert
from tronrent.models.payment import Payment, PaymentStatus


async def insert_payment_if_new(session: AsyncSession, **values: Any) -> int | None:
    """Insert a payment; its id if the row is new, None if this transfer was already recorded."""
    stmt = (
        upsert_insert(session, Payment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tx_hash", "event_index"])
        .returning(Payment.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


PaymentKey = tuple[str, int]  # (tx_hash, event_index)

#: tx hashes per IN (...) lookup
LOOKUP_CHUNK = 500


def _key(row: Mapping[str, Any]) -> PaymentKey:
    return str(row["tx_hash"]), int(row.get("event_index", 0))


async def record_payments(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> dict[PaymentKey, int]:
    """Insert many payments with one INSERT ... ON CONFLICT DO NOTHING RETURNING (see
    `insert_new_rows`): the ids of the new rows, keyed by (tx_hash, event_index). A transfer
    listed twice is inserted once; rows must all carry the same columns."""
    unique: dict[PaymentKey, Mapping[str, Any]] = {}
    for row in rows:
        unique.setdefault(_key(row), row)
    inserted = await insert_new_rows(
        session,
        Payment,
        [{"event_index": 0, **row} for row in unique.values()],
        conflict=["tx_hash", "event_index"],
        returning=["id", "tx_hash", "event_index"],
    )
    return {(str(tx_hash), int(index)): int(pid) for pid, tx_hash, index in inserted}


async def insert_payments_if_new(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert many payments; the ids of the new rows, in the order of ``rows``."""
    new = await record_payments(session, rows)
    ids: list[int] = []
    for row in rows:
        pid = new.pop(_key(row), None)
        if pid is not None:
            ids.append(pid)
    return ids


async def get_by_tx(session: AsyncSession, tx_hash: str, event_index: int = 0) -> Payment | None:
    return (
        await session.execute(
            select(Payment).where(Payment.tx_hash == tx_hash, Payment.event_index == event_index)
        )
    ).scalar_one_or_none()


async def restore_orphaned(session: AsyncSession, tx_hash: str, **block: Any) -> Payment | None:
    """A transfer of a vanished block seen again on the new chain: back to its state."""
    restored = await restore_orphaned_many(session, {(tx_hash, 0): block})
    return restored.get((tx_hash, 0))


async def restore_orphaned_many(
    session: AsyncSession, seen: Mapping[PaymentKey, Mapping[str, Any]]
) -> dict[PaymentKey, Payment]:
    """Transfers of vanished blocks seen again on the new chain (``seen``: their new block
    fields by key): the orphaned ones go back to their state, looked up in one query per
    chunk. Keys that are not an orphaned payment are left alone."""
    hashes = sorted({tx_hash for tx_hash, _ in seen})
    restored: dict[PaymentKey, Payment] = {}
    for start in range(0, len(hashes), LOOKUP_CHUNK):
        rows = (
            await session.execute(
                select(Payment).where(
                    Payment.tx_hash.in_(hashes[start : start + LOOKUP_CHUNK]),
                    Payment.status == PaymentStatus.ORPHANED,
                )
            )
        ).scalars()
        for payment in rows:
            key = (payment.tx_hash, payment.event_index)
            block = seen.get(key)
            if block is None:
                continue
            payment.status = PaymentStatus.MATCHED if payment.order_id else PaymentStatus.RECEIVED
            for name, value in block.items():
                setattr(payment, name, value)
            restored[key] = payment
    return restored


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
