"""Payments of a block that left the canonical chain (payment.repository): a fork rewind keeps
the status each had (``status_before_orphan``) and its notes; seen again on the new chain,
each gets that status back - a refund owed stays owed (and its job is sent again) - and one
whose order failed while it was orphaned is owed its full refund; on both databases."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from test_batch import new_address

from tronrent.kit.time import utcnow
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.payment import repository as payment_repo
from tronrent.payment.refund import pending_refunds
from tronrent.worker import job_scope
from tronrent.worker._enqueue import JobBuffer

TRX = 1_000_000
BLOCK = 5_000_000  # far above any other test's payments in the shared database
REFUND_JOB = "payment.refund_payment"


@pytest.fixture
async def jobs() -> AsyncIterator[JobBuffer]:
    async def keep(_: Any) -> None:
        pass

    async with job_scope(keep) as buf:
        yield buf


def sent(buf: JobBuffer) -> list[tuple[str, tuple[Any, ...]]]:
    return [(j.name, j.args) for j in buf.pending + buf.ready]


async def add_order(session: AsyncSession, rt: FlashRuntime, status: OrderStatus) -> Order:
    order, _ = await order_service.create_order(
        session, rt, recipient_address=new_address(), chat_id=7
    )
    order.status = status
    if status is not OrderStatus.PENDING:
        order.expires_at = utcnow() - timedelta(hours=1)
    await session.flush()
    return order


async def add_payment(
    session: AsyncSession,
    rt: FlashRuntime,
    status: PaymentStatus,
    order: Order | None = None,
    *,
    block: int,
    **kw: Any,
) -> Payment:
    payment = Payment(
        tx_hash=os.urandom(32).hex(),
        asset=Currency.TRX,
        from_address=new_address(),
        to_address=rt.payment_address,
        amount_units=3 * TRX,
        block_number=block,
        block_id=os.urandom(32).hex(),
        status=status,
        order_id=order.id if order is not None else None,
        match_method=MatchMethod.AMOUNT_TAIL if order is not None else None,
        handled_at=utcnow(),
        **kw,
    )
    session.add(payment)
    await session.flush()
    if order is not None:
        order.tron_tx_hash = payment.tx_hash
        await session.flush()
    return payment


async def fork(session: AsyncSession, block: int) -> list[int]:
    """A rewind over ``block``: none of the blocks from there on is on the new chain."""
    gone = await payment_repo.orphan_payments(session, block, {})
    await session.flush()
    return list(gone)


async def seen_again(session: AsyncSession, *payments: Payment) -> dict[int, Payment]:
    """Their transactions seen again on the new chain, each in a new block one higher."""
    seen = {
        (p.tx_hash, p.event_index): {
            "block_number": p.block_number + 1,
            "block_id": "ab" * 32,
            "block_timestamp": utcnow(),
        }
        for p in payments
    }
    restored = await payment_repo.restore_orphaned_many(session, seen)
    await session.flush()
    return {p.id: p for p in restored.values()}


async def reread(session: AsyncSession, payment: Payment) -> Payment:
    stmt = select(Payment).where(Payment.id == payment.id)
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one()


# (the payment's status, its order's status; None: no order)
CASES = [
    pytest.param(PaymentStatus.REFUNDING, OrderStatus.EXPIRED, id="refunding-late-payment"),
    pytest.param(PaymentStatus.MATCHED, OrderStatus.ACTIVE, id="matched"),
    pytest.param(PaymentStatus.DUST, None, id="dust"),
    pytest.param(PaymentStatus.IGNORED, None, id="ignored"),
    pytest.param(PaymentStatus.EXCESS, OrderStatus.ACTIVE, id="excess"),
    pytest.param(PaymentStatus.REFUNDED, OrderStatus.EXPIRED, id="refunded"),
]


class TestRestoredWithItsOwnStatus:
    @pytest.mark.parametrize(("status", "order_status"), CASES)
    async def test_orphaned_then_seen_again(
        self,
        session: AsyncSession,
        rt: FlashRuntime,
        jobs: JobBuffer,
        status: PaymentStatus,
        order_status: OrderStatus | None,
    ) -> None:
        order = await add_order(session, rt, order_status) if order_status else None
        block = BLOCK + int.from_bytes(os.urandom(3), "big")
        p = await add_payment(session, rt, status, order, block=block, note="as handled")
        assert await fork(session, block) == [p.id]
        p = await reread(session, p)
        assert (p.status, p.status_before_orphan) == (PaymentStatus.ORPHANED, status)
        # the notes are kept (the refund job reads its own there), the fork's is added
        assert p.note == "as handled; block left the canonical chain"
        assert p.id not in await pending_refunds(session, limit=10_000)
        restored = await seen_again(session, p)
        assert list(restored) == [p.id]
        p = await reread(session, p)
        assert (p.status, p.status_before_orphan) == (status, None)
        assert (p.block_number, p.block_id) == (block + 1, "ab" * 32)
        assert p.handled_at is not None  # never processed again
        owed = status is PaymentStatus.REFUNDING
        # a refund owed stays owed: its job (which stopped at "orphaned") is sent again
        assert sent(jobs) == ([(REFUND_JOB, (p.id,))] if owed else [])
        assert (p.id in await pending_refunds(session, limit=10_000)) is owed

    async def test_orphaned_before_the_status_was_kept(
        self, session: AsyncSession, rt: FlashRuntime, jobs: JobBuffer
    ) -> None:
        """Orphaned by an older version (no ``status_before_orphan``): matched with an order,
        received without, as before."""
        order = await add_order(session, rt, OrderStatus.ACTIVE)
        block = BLOCK + int.from_bytes(os.urandom(3), "big")
        with_order = await add_payment(session, rt, PaymentStatus.ORPHANED, order, block=block)
        walk_in = await add_payment(session, rt, PaymentStatus.ORPHANED, block=block)
        await seen_again(session, with_order, walk_in)
        assert (await reread(session, with_order)).status is PaymentStatus.MATCHED
        assert (await reread(session, walk_in)).status is PaymentStatus.RECEIVED
        assert sent(jobs) == []

    async def test_twice_orphaned_keeps_the_first_status(
        self, session: AsyncSession, rt: FlashRuntime, jobs: JobBuffer
    ) -> None:
        order = await add_order(session, rt, OrderStatus.EXPIRED)
        block = BLOCK + int.from_bytes(os.urandom(3), "big")
        p = await add_payment(session, rt, PaymentStatus.REFUNDING, order, block=block)
        assert await fork(session, block) == [p.id]
        assert await fork(session, block) == []  # already orphaned: left alone
        p = await reread(session, p)
        assert p.status_before_orphan is PaymentStatus.REFUNDING
        await seen_again(session, p)
        assert (await reread(session, p)).status is PaymentStatus.REFUNDING


class TestOrderFailedWhileOrphaned:
    @pytest.mark.parametrize("status", [PaymentStatus.MATCHED, PaymentStatus.REFUNDED])
    async def test_back_on_chain_the_full_refund_is_owed(
        self, session: AsyncSession, rt: FlashRuntime, jobs: JobBuffer, status: PaymentStatus
    ) -> None:
        """Its order failed while it was orphaned (no refund then: `_give_up` leaves an
        orphaned payment alone); back on chain it is refunding, as the failure would have
        made it (refunded: its excess went out, the refund job sends the rest)."""
        order = await add_order(session, rt, OrderStatus.PAID)
        block = BLOCK + int.from_bytes(os.urandom(3), "big")
        p = await add_payment(session, rt, status, order, block=block)
        await fork(session, block)
        order.status = OrderStatus.FAILED
        await session.flush()
        await seen_again(session, p)
        p = await reread(session, p)
        assert p.status is PaymentStatus.REFUNDING
        assert payment_repo.FAILED_WHILE_ORPHANED_NOTE in (p.note or "")
        assert sent(jobs) == [(REFUND_JOB, (p.id,))]

    async def test_only_the_payment_that_paid_the_order(
        self, session: AsyncSession, rt: FlashRuntime, jobs: JobBuffer
    ) -> None:
        """Two restored payments name the failed order (an operator matched another one to it):
        only the one that paid it (``tron_tx_hash``) is owed the failure's refund."""
        order = await add_order(session, rt, OrderStatus.PAID)
        block = BLOCK + int.from_bytes(os.urandom(3), "big")
        paid = await add_payment(session, rt, PaymentStatus.MATCHED, order, block=block)
        other = await add_payment(session, rt, PaymentStatus.MATCHED, order, block=block)
        order.tron_tx_hash = paid.tx_hash
        await fork(session, block)
        order.status = OrderStatus.FAILED
        await session.flush()
        await seen_again(session, paid, other)
        assert (await reread(session, paid)).status is PaymentStatus.REFUNDING
        assert (await reread(session, other)).status is PaymentStatus.MATCHED
        assert sent(jobs) == [(REFUND_JOB, (paid.id,))]

    async def test_not_the_orders_payment_is_left_as_it_was(
        self, session: AsyncSession, rt: FlashRuntime, jobs: JobBuffer
    ) -> None:
        order = await add_order(session, rt, OrderStatus.PAID)
        block = BLOCK + int.from_bytes(os.urandom(3), "big")
        p = await add_payment(session, rt, PaymentStatus.MATCHED, order, block=block)
        await fork(session, block)
        order.status = OrderStatus.FAILED
        order.tron_tx_hash = "cd" * 32  # another payment paid it
        await session.flush()
        await seen_again(session, p)
        assert (await reread(session, p)).status is PaymentStatus.MATCHED
        assert sent(jobs) == []
