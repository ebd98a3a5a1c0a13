"""Operator actions on payments (payment.admin): manual refund and manual match - the state
checks (409s), the audit row, the job enqueued - and how the refund and payment jobs honour
them (payment.refund.refund_amount, PaymentService's preset order), on both databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from test_batch import new_address

from tronrent.auth.service import admin as admin_service
from tronrent.kit.errors import Conflict, NotFound
from tronrent.kit.time import utcnow
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.models.payment_change import PaymentAction, PaymentChange
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.payment import admin as payment_admin_module
from tronrent.payment.admin import payment_admin
from tronrent.payment.refund import refund_amount
from tronrent.payment.service import PROCESS_JOB, REFUND_JOB
from tronrent.payment.service import payment as payment_service
from tronrent.user.admin import Actor
from tronrent.worker import job_scope
from tronrent.worker._enqueue import JobBuffer

TRX = 1_000_000
PRICE = 1_500_000  # the default single price


@pytest.fixture
async def by(session: AsyncSession) -> Actor:
    admin = await admin_service.create(
        session, username=f"admin_{uuid.uuid4().hex[:8]}", password="x" * 12, role="admin"
    )
    return Actor(admin_id=admin.id, username=admin.username)


@pytest.fixture
async def jobs() -> AsyncIterator[JobBuffer]:
    async def keep(_: Any) -> None:
        pass

    async with job_scope(keep) as buf:
        yield buf


async def add_payment(
    session: AsyncSession, rt: FlashRuntime, amount: int, status: PaymentStatus, **kw: Any
) -> Payment:
    values: dict[str, Any] = {
        "tx_hash": os.urandom(32).hex(),
        "asset": Currency.TRX,
        "from_address": new_address(),
        "to_address": rt.payment_address,
        "amount_units": amount,
        "block_number": 10,
        "status": status,
        "handled_at": None if status is PaymentStatus.RECEIVED else utcnow(),
    }
    values.update(kw)
    payment = Payment(**values)
    session.add(payment)
    await session.flush()
    return payment


async def add_order(session: AsyncSession, rt: FlashRuntime, **kw: Any) -> Order:
    order, _ = await order_service.create_order(
        session, rt, recipient_address=new_address(), chat_id=7
    )
    for name, value in kw.items():
        setattr(order, name, value)
    await session.flush()
    return order


def sent(buf: JobBuffer) -> list[tuple[str, tuple[Any, ...]]]:
    return [(j.name, j.args) for j in buf.pending + buf.ready]


class TestRefund:
    @pytest.mark.parametrize(
        "status", [PaymentStatus.DUST, PaymentStatus.IGNORED, PaymentStatus.UNDERPAID]
    )
    async def test_once_with_who_and_why(
        self,
        session: AsyncSession,
        rt: FlashRuntime,
        by: Actor,
        jobs: JobBuffer,
        status: PaymentStatus,
    ) -> None:
        p = await add_payment(session, rt, 500_000, status, note="dust below min_amount")
        change = await payment_admin.refund(session, p.id, reason="customer asked", by=by)
        assert p.status is PaymentStatus.REFUNDING
        assert "refund ordered by admin:" in (p.note or "")
        assert (change.action, change.actor, change.actor_id) == (
            PaymentAction.REFUND,
            f"admin:{by.username}",
            by.admin_id,
        )
        assert change.before["status"] == status.value
        assert change.after["status"] == "refunding"
        assert change.reason == "customer asked"
        assert sent(jobs) == [(REFUND_JOB, (p.id,))]
        with pytest.raises(payment_admin_module.PaymentAlreadyRefunded):
            await payment_admin.refund(session, p.id, reason="again", by=by)
        assert sent(jobs) == [(REFUND_JOB, (p.id,))]

    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (PaymentStatus.REFUNDED, payment_admin_module.PaymentAlreadyRefunded),
            (PaymentStatus.MATCHED, payment_admin_module.PaymentNotRefundable),
            (PaymentStatus.RECEIVED, payment_admin_module.PaymentNotRefundable),
            (PaymentStatus.ORPHANED, payment_admin_module.PaymentNotRefundable),
        ],
    )
    async def test_refused(
        self,
        session: AsyncSession,
        rt: FlashRuntime,
        by: Actor,
        jobs: JobBuffer,
        status: PaymentStatus,
        error: type[Conflict],
    ) -> None:
        p = await add_payment(session, rt, 2 * TRX, status)
        with pytest.raises(error) as caught:
            await payment_admin.refund(session, p.id, reason="x", by=by)
        assert isinstance(caught.value, Conflict)
        assert p.status is status and sent(jobs) == []

    async def test_missing(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, jobs: JobBuffer
    ) -> None:
        with pytest.raises(NotFound):
            await payment_admin.refund(session, 2**40, reason="x", by=by)


class TestRefundAmount:
    """What the refund job sends for a payment an operator refunds: the refund policy applied
    whatever the configured one says."""

    async def _amount(self, session: AsyncSession, rt: FlashRuntime, p: Payment) -> int:
        order = await session.get(Order, p.order_id) if p.order_id else None
        return await refund_amount(session, SimpleNamespace(rt=rt), p, order)  # type: ignore[arg-type]

    async def test_no_order_all_of_it(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, jobs: JobBuffer
    ) -> None:
        # an exact price paid to no order (ignored): the policy keeps an exact payment
        p = await add_payment(session, rt, 2 * PRICE, PaymentStatus.IGNORED)
        assert await self._amount(session, rt, p) == 0
        await payment_admin.refund(session, p.id, reason="x", by=by)
        assert await self._amount(session, rt, p) == 2 * PRICE

    async def test_excess_only_the_excess(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, jobs: JobBuffer
    ) -> None:
        cfg = await order_service.config(session, rt)
        order = await add_order(session, rt, status=OrderStatus.ACTIVE, transaction_count=10)
        cap = cfg.price.max_transactions * cfg.price.single_price_sun
        p = await add_payment(session, rt, cap + 3 * TRX, PaymentStatus.EXCESS, order_id=order.id)
        await payment_admin.refund(session, p.id, reason="x", by=by)
        assert await self._amount(session, rt, p) == 3 * TRX - cfg.policies.refund_fee_sun


class TestMatch:
    async def test_attaches_and_enqueues(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, jobs: JobBuffer
    ) -> None:
        order = await add_order(session, rt)
        p = await add_payment(session, rt, 2 * PRICE, PaymentStatus.IGNORED, note="kept")
        change = await payment_admin.match(session, p.id, order.id, reason="paid late", by=by)
        assert (p.order_id, p.match_method, p.status, p.handled_at) == (
            order.id,
            MatchMethod.MANUAL,
            PaymentStatus.RECEIVED,
            None,
        )
        assert (change.action, change.order_id) == (PaymentAction.MATCH, order.id)
        assert change.before == {"status": "ignored", "orderId": None, "matchMethod": None}
        assert sent(jobs) == [(PROCESS_JOB, (p.id,))]
        with pytest.raises(payment_admin_module.PaymentNotMatchable):  # not unmatched any more
            await payment_admin.match(session, p.id, order.id, reason="again", by=by)

    async def test_refused(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, jobs: JobBuffer
    ) -> None:
        paid = await add_order(session, rt, status=OrderStatus.PAID)
        pending = await add_order(session, rt)
        p = await add_payment(session, rt, 2 * PRICE, PaymentStatus.IGNORED)
        with pytest.raises(payment_admin_module.OrderNotPayable):
            await payment_admin.match(session, p.id, paid.id, reason="x", by=by)
        with pytest.raises(NotFound):
            await payment_admin.match(session, p.id, "no-such-order", reason="x", by=by)
        elsewhere = await add_payment(
            session, rt, 2 * PRICE, PaymentStatus.IGNORED, to_address=new_address()
        )
        with pytest.raises(payment_admin_module.PaymentNotMatchable):
            await payment_admin.match(session, elsewhere.id, pending.id, reason="x", by=by)
        usdt = await add_payment(session, rt, 2 * PRICE, PaymentStatus.IGNORED, asset=Currency.USDT)
        with pytest.raises(payment_admin_module.PaymentNotMatchable) as wrong_currency:
            await payment_admin.match(session, usdt.id, pending.id, reason="x", by=by)
        assert wrong_currency.value.details == {"asset": "USDT", "orderCurrency": "TRX"}
        dust = await add_payment(session, rt, 10, PaymentStatus.DUST)
        with pytest.raises(payment_admin_module.PaymentNotMatchable):
            await payment_admin.match(session, dust.id, pending.id, reason="x", by=by)
        assert sent(jobs) == []
        changes = (await session.execute(select(PaymentChange))).scalars().all()
        assert [c for c in changes if c.payment_id in (p.id, elsewhere.id, usdt.id)] == []


class TestProcessingAManualMatch:
    """PaymentService takes a manually matched payment to its preset order, whatever its
    amount says (2 * price, no tail: by amount it would be a walk-in for its sender)."""

    async def _matched(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, order: Order
    ) -> Payment:
        p = await add_payment(session, rt, 2 * PRICE, PaymentStatus.IGNORED)
        await payment_admin.match(session, p.id, order.id, reason="x", by=by)
        return p

    async def test_pays_the_preset_order(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, jobs: JobBuffer
    ) -> None:
        order = await add_order(session, rt)
        p = await self._matched(session, rt, by, order)
        [outcome] = await payment_service.process_many(session, rt, [p.id])
        assert (outcome.status, outcome.order_id, outcome.count) == (
            PaymentStatus.MATCHED,
            order.id,
            2,
        )
        assert (order.status, p.match_method) == (OrderStatus.PAID, MatchMethod.MANUAL)
        assert ("delegation.delegate_order", (order.id,)) in sent(jobs)

    async def test_an_expired_order_past_the_grace_is_paid_not_refunded(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, jobs: JobBuffer
    ) -> None:
        order = await add_order(
            session, rt, status=OrderStatus.EXPIRED, expires_at=utcnow() - timedelta(hours=3)
        )
        p = await self._matched(session, rt, by, order)
        [outcome] = await payment_service.process_many(session, rt, [p.id])
        assert (outcome.status, order.status) == (PaymentStatus.MATCHED, OrderStatus.PAID)

    async def test_order_paid_meanwhile_undoes_the_match(
        self, session: AsyncSession, rt: FlashRuntime, by: Actor, jobs: JobBuffer
    ) -> None:
        order = await add_order(session, rt)
        p = await self._matched(session, rt, by, order)
        order.status = OrderStatus.CANCELLED
        await session.flush()
        [outcome] = await payment_service.process_many(session, rt, [p.id])
        assert outcome.status is PaymentStatus.IGNORED
        assert (p.order_id, p.match_method, p.status) == (None, None, PaymentStatus.IGNORED)
        assert "manual match undone" in (p.note or "")
        assert order.status is OrderStatus.CANCELLED
        assert [name for name, _ in sent(jobs)] == [PROCESS_JOB]
