"""Payment queries. Recording is idempotent: INSERT ... ON CONFLICT DO NOTHING on the tx hash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import insert_new_rows, upsert_insert
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.worker import enqueue_job


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

#: the refund job (payment.tasks; named here: this module is below the job modules)
REFUND_JOB = "payment.refund_payment"
#: the note a payment gets when its block leaves the canonical chain
ORPHANED_NOTE = "block left the canonical chain"
#: the note of a payment whose order failed while it was orphaned, once it is back on chain
FAILED_WHILE_ORPHANED_NOTE = "order failed while the payment was orphaned: full refund"


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
    fields by key): the orphaned ones go back to the status they had when they were orphaned
    (``status_before_orphan``; a payment orphaned before that was kept: matched with an
    order, else received), looked up in one query per chunk. Keys that are not an orphaned
    payment are left alone.

    A payment whose order failed while it was orphaned (`DelegationFlows._give_up` leaves an
    orphaned payment alone: no refund of TRX we may never have received) is owed its full
    refund now, as if it had not been orphaned: it becomes ``refunding``. Every payment
    restored to ``refunding`` gets a refund job (sent after the caller commits): its job may
    have run, and stopped, while it was orphaned."""
    hashes = sorted({tx_hash for tx_hash, _ in seen})
    restored: dict[PaymentKey, Payment] = {}
    for start in range(0, len(hashes), LOOKUP_CHUNK):
        rows = (
            await session.execute(
                select(Payment)
                .where(
                    Payment.tx_hash.in_(hashes[start : start + LOOKUP_CHUNK]),
                    Payment.status == PaymentStatus.ORPHANED,
                )
                # locked: a failing order's `_give_up` is decided before or after the restore
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
        for payment in rows:
            key = (payment.tx_hash, payment.event_index)
            block = seen.get(key)
            if block is None:
                continue
            payment.status = payment.status_before_orphan or (
                PaymentStatus.MATCHED if payment.order_id else PaymentStatus.RECEIVED
            )
            payment.status_before_orphan = None
            for name, value in block.items():
                setattr(payment, name, value)
            restored[key] = payment
    await _refund_failed_orders(session, list(restored.values()))
    for payment in restored.values():
        if payment.status is PaymentStatus.REFUNDING:
            enqueue_job(REFUND_JOB, payment.id)
    return restored


async def _refund_failed_orders(session: AsyncSession, payments: Sequence[Payment]) -> None:
    """Restored payments that paid an order which failed meanwhile: refunding (see
    `restore_orphaned_many`). Only the order's own payment (its ``tron_tx_hash``), as the
    failure's refund would have taken."""
    candidates = {
        p.tx_hash: p
        for p in payments
        if p.order_id is not None and p.status is not PaymentStatus.REFUNDING
    }
    if not candidates:
        return
    order_ids = sorted({str(p.order_id) for p in candidates.values()})
    failed = (
        await session.execute(
            select(Order.id, Order.tron_tx_hash).where(
                Order.id.in_(order_ids), Order.status == OrderStatus.FAILED
            )
        )
    ).all()
    for order_id, tx_hash in failed:
        payment = candidates.get(str(tx_hash))
        if payment is None or payment.order_id != order_id:
            continue
        # even after its excess was refunded: the refund job sends the rest, never more than
        # was paid in total (see payment.refund)
        payment.status = PaymentStatus.REFUNDING
        payment.note = f"{payment.note or ''}; {FAILED_WHILE_ORPHANED_NOTE}".strip("; ")


async def orphan_payments(
    session: AsyncSession, from_block: int, canonical: dict[int, str]
) -> Sequence[int]:
    """Flag payments at or above `from_block` whose block is not on the canonical chain; the
    status each had is kept in ``status_before_orphan`` (restored when its transaction is seen
    again) and the note is appended to, never replaced (the refund job reads its notes)."""
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
            .values(
                status=PaymentStatus.ORPHANED,
                status_before_orphan=Payment.status,
                note=func.coalesce(Payment.note + "; ", "") + ORPHANED_NOTE,
            )
            .execution_options(synchronize_session=False)
        )
    return gone
