"""Paying orders from the balance (payment.balance_pay) on real SQLite and PostgreSQL: the
debit, the order's move to paid with one delegation job, idempotency, refused payments,
refunds to the balance, the user's totals, 50 concurrent payments against a balance for 10,
and a property test over random top-ups, payments and refunds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from package_orders import TRX, insert_package_order, new_user
from tronrent.delegation.pickup import paid_balance_orders
from tronrent.kit.db import transaction_scope
from tronrent.models import User, UserStatus
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.common import Currency
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus, OrderType
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog
from tronrent.notification.messages import render
from tronrent.order.errors import OrderNotFound
from tronrent.order.state import transition
from tronrent.payment.balance_pay import (
    BALANCE,
    OrderNotPayable,
    pay_from_balance,
    refund_to_balance,
)
from tronrent.product.errors import UserBlocked
from tronrent.user.balance import balance as balance_service
from tronrent.user.errors import InsufficientBalance
from tronrent.worker import PendingJob, job_scope


@dataclass
class Jobs:
    sent: list[PendingJob] = field(default_factory=list)

    async def send(self, job: PendingJob) -> None:
        self.sent.append(job)


@pytest.fixture
async def jobs() -> AsyncIterator[Jobs]:
    """A job scope for the test; the jobs it sends (after a commit) are collected."""
    collected = Jobs()
    async with job_scope(collected.send):
        yield collected


async def ledger(session: AsyncSession, user: User) -> list[BalanceLedgerEntry]:
    rows = await session.execute(
        select(BalanceLedgerEntry)
        .where(BalanceLedgerEntry.user_id == user.id)
        .order_by(BalanceLedgerEntry.id)
    )
    return list(rows.scalars())


async def fresh_user(session: AsyncSession, user: User) -> User:
    row = await session.get(User, user.id, populate_existing=True)
    assert row is not None
    return row


async def fail(session: AsyncSession, order: Order) -> None:
    """The order's delegation failed for good (what delegation.flows' give-up does first)."""
    assert await transition(session, order.id, OrderStatus.PAID, OrderStatus.DELEGATING)
    assert await transition(session, order.id, OrderStatus.DELEGATING, OrderStatus.FAILED)
    await session.refresh(order)


class TestPayFromBalance:
    async def test_debits_and_queues_one_delegation(self, session: AsyncSession) -> None:
        collected = Jobs()
        async with job_scope(collected.send):
            user = await new_user(session, trx_sun=12 * TRX, chat_id=None)
            order = await insert_package_order(session, user, price_units=5 * TRX)
            paid = await pay_from_balance(session, order.id, actor="admin:alice")
            await session.commit()
        assert paid.status is OrderStatus.PAID
        assert paid.payment_status is OrderPaymentStatus.PAID
        assert paid.payment_method == BALANCE
        assert paid.paid_amount_units == 5 * TRX and paid.paid_at is not None
        await session.refresh(paid)  # the row as written, not the loaded object
        assert (paid.status, paid.payment_status, paid.payment_method) == (
            OrderStatus.PAID,
            OrderPaymentStatus.PAID,
            BALANCE,
        )
        assert paid.paid_amount_units == 5 * TRX and paid.paid_at is not None
        # no job: the engine's pickup takes the paid order (`delegation.pickup`)
        assert collected.sent == []
        assert await paid_balance_orders(session, 10) == [order.id]
        entries = await ledger(session, user)
        debit = entries[-1]
        assert (debit.cause_type, debit.cause_id, debit.delta_units) == (
            LedgerCause.ORDER_PAYMENT,
            order.id,
            -5 * TRX,
        )
        assert json.loads(debit.note or "{}") == {"by": "admin:alice"}
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 7 * TRX
        assert await balance_service.reconcile(session, user_id=user.id) == []
        watch = (
            await session.execute(
                select(PaymentMonitoringLog).where(PaymentMonitoringLog.order_id == order.id)
            )
        ).scalar_one()
        assert watch.status is MonitoringStatus.COMPLETED
        [event] = (
            (
                await session.execute(
                    select(NotificationOutbox).where(NotificationOutbox.order_id == order.id)
                )
            )
            .scalars()
            .all()
        )
        assert event.event_type == "payment_received" and event.payload["paid_sun"] == 5 * TRX
        assert "5 TRX" in render(event.event_type, event.payload, "en", strict=True)
        row = await fresh_user(session, user)
        assert (row.total_orders, row.total_spent_sun, row.total_spent_usdt_units) == (
            1,
            5 * TRX,
            0,
        )

    async def test_usdt_order_debits_the_usdt_balance(
        self, session: AsyncSession, jobs: Jobs
    ) -> None:
        user = await new_user(session, trx_sun=50 * TRX, usdt_units=3_000_000)
        order = await insert_package_order(
            session, user, price_units=2_500_000, currency=Currency.USDT
        )
        await pay_from_balance(session, order.id)
        balances = await balance_service.get_balances(session, user.id)
        assert (balances.trx_sun, balances.usdt_units) == (50 * TRX, 500_000)
        row = await fresh_user(session, user)
        assert (row.total_spent_sun, row.total_spent_usdt_units) == (0, 2_500_000)

    async def test_paying_twice_changes_nothing(self, session: AsyncSession) -> None:
        collected = Jobs()
        async with job_scope(collected.send):
            user = await new_user(session, trx_sun=20 * TRX)
            order = await insert_package_order(session, user, price_units=5 * TRX)
            first = await pay_from_balance(session, order.id)
            await session.commit()
            again = await pay_from_balance(session, order.id)
            await session.commit()
        assert again.id == first.id and again.status is OrderStatus.PAID
        assert len(await ledger(session, user)) == 2  # the top-up and ONE debit
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 15 * TRX
        assert collected.sent == []
        assert await paid_balance_orders(session, 10) == [order.id]  # picked up once
        assert (await fresh_user(session, user)).total_orders == 1

    async def test_insufficient_balance_changes_nothing(
        self, session: AsyncSession, jobs: Jobs
    ) -> None:
        user = await new_user(session, trx_sun=4 * TRX)
        order = await insert_package_order(session, user, price_units=5 * TRX)
        with pytest.raises(InsufficientBalance) as caught:
            await pay_from_balance(session, order.id)
        assert caught.value.code == "INSUFFICIENT_BALANCE"
        await session.refresh(order)
        assert order.status is OrderStatus.PENDING and order.payment_method is None
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 4 * TRX
        assert len(await ledger(session, user)) == 1
        assert (await fresh_user(session, user)).total_orders == 0

    async def test_blocked_user_cannot_pay(self, session: AsyncSession, jobs: Jobs) -> None:
        user = await new_user(session, trx_sun=10 * TRX)
        order = await insert_package_order(session, user, price_units=5 * TRX)
        user.status = UserStatus.BANNED
        await session.flush()
        with pytest.raises(UserBlocked) as caught:
            await pay_from_balance(session, order.id)
        assert caught.value.code == "USER_BLOCKED"
        await session.refresh(order)
        assert order.status is OrderStatus.PENDING and order.payment_method is None
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 10 * TRX
        assert jobs.sent == []

    async def test_exact_balance_pays_to_zero(self, session: AsyncSession, jobs: Jobs) -> None:
        user = await new_user(session, trx_sun=5 * TRX)
        order = await insert_package_order(session, user, price_units=5 * TRX)
        await pay_from_balance(session, order.id)
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 0

    async def test_flash_order_is_paid_by_transfer_only(
        self, session: AsyncSession, jobs: Jobs
    ) -> None:
        user = await new_user(session, trx_sun=50 * TRX)
        order = await insert_package_order(session, user)
        order.order_type = OrderType.ENERGY_FLASH  # created pending: priced on payment
        order.final_price_units = 0
        order.energy_amount = None
        await session.flush()
        with pytest.raises(OrderNotPayable, match="pay it by transfer"):
            await pay_from_balance(session, order.id)

    async def test_order_without_user(self, session: AsyncSession, jobs: Jobs) -> None:
        order = await insert_package_order(session, None)
        with pytest.raises(OrderNotPayable, match="no user"):
            await pay_from_balance(session, order.id)

    async def test_cancelled_order(self, session: AsyncSession, jobs: Jobs) -> None:
        user = await new_user(session, trx_sun=50 * TRX)
        order = await insert_package_order(session, user)
        assert await transition(session, order.id, OrderStatus.PENDING, OrderStatus.CANCELLED)
        with pytest.raises(OrderNotPayable, match="cancelled") as caught:
            await pay_from_balance(session, order.id)
        assert caught.value.code == "ORDER_NOT_PAYABLE"
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 50 * TRX

    async def test_unknown_order(self, session: AsyncSession, jobs: Jobs) -> None:
        with pytest.raises(OrderNotFound):
            await pay_from_balance(session, "PKG_nope")


class TestRefundToBalance:
    async def test_failed_order_is_refunded_to_the_balance(
        self, session: AsyncSession, jobs: Jobs
    ) -> None:
        user = await new_user(session, trx_sun=10 * TRX)
        order = await insert_package_order(session, user, price_units=4 * TRX)
        await pay_from_balance(session, order.id)
        await fail(session, order)
        assert await refund_to_balance(session, order, reason="recipient_not_activated")
        await session.refresh(order)
        assert order.status is OrderStatus.REFUNDED
        assert order.payment_status is OrderPaymentStatus.REFUNDED
        credit = (await ledger(session, user))[-1]
        assert (credit.cause_type, credit.cause_id, credit.delta_units) == (
            LedgerCause.ORDER_REFUND,
            order.id,
            4 * TRX,
        )
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 10 * TRX
        assert await balance_service.reconcile(session, user_id=user.id) == []
        row = await fresh_user(session, user)
        assert (row.total_orders, row.total_spent_sun) == (0, 0)
        refund = (
            await session.execute(
                select(NotificationOutbox).where(
                    NotificationOutbox.order_id == order.id,
                    NotificationOutbox.event_type == "refund",
                )
            )
        ).scalar_one()
        text = render(refund.event_type, refund.payload, "en", strict=True)
        assert "4 TRX" in text and "returned to your balance" in text
        # again: nothing more
        assert not await refund_to_balance(session, order, reason="again")
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 10 * TRX

    async def test_an_order_paid_by_transfer_is_left_alone(
        self, session: AsyncSession, jobs: Jobs
    ) -> None:
        user = await new_user(session)
        order = await insert_package_order(session, user)
        order.status = OrderStatus.FAILED
        order.payment_method = "transfer"
        await session.flush()
        assert not await refund_to_balance(session, order, reason="x")
        assert await ledger(session, user) == []


# --- concurrency: real transactions on a database of the test's own --------------------------


async def pay_in_own_transaction(
    session_maker: async_sessionmaker[AsyncSession], order_id: str
) -> bool:
    try:
        async with transaction_scope(session_maker) as session:
            await pay_from_balance(session, order_id)
    except InsufficientBalance:
        return False
    return True


class TestConcurrency:
    async def test_fifty_orders_against_a_balance_for_ten(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        price = 3 * TRX
        collected = Jobs()
        async with transaction_scope(session_maker) as session:
            user = await new_user(session, trx_sun=10 * price)
            orders = [
                await insert_package_order(session, user, price_units=price) for _ in range(50)
            ]
        async with job_scope(collected.send):
            results = await asyncio.gather(
                *(pay_in_own_transaction(session_maker, o.id) for o in orders)
            )
        assert results.count(True) == 10
        paid_ids = {o.id for o, ok in zip(orders, results, strict=True) if ok}
        async with session_maker() as session:
            assert (await balance_service.get_balances(session, user.id)).trx_sun == 0
            assert await balance_service.reconcile(session) == []
            entries = await ledger(session, user)
            debits = [e for e in entries if e.cause_type is LedgerCause.ORDER_PAYMENT]
            assert {e.cause_id for e in debits} == paid_ids and len(debits) == 10
            assert sorted(e.balance_after_units for e in entries) == [
                k * price for k in range(11)
            ]  # never below zero
            statuses = (
                await session.execute(
                    select(Order.status, func.count())
                    .where(Order.user_id == user.id)
                    .group_by(Order.status)
                )
            ).all()
            assert dict(statuses) == {OrderStatus.PAID: 10, OrderStatus.PENDING: 40}
            row = await session.get(User, user.id)
            assert row is not None and (row.total_orders, row.total_spent_sun) == (10, 10 * price)
            assert sorted(await paid_balance_orders(session, 100)) == sorted(paid_ids)
        assert collected.sent == []

    async def test_one_order_paid_twenty_times_at_once(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        collected = Jobs()
        async with transaction_scope(session_maker) as session:
            user = await new_user(session, trx_sun=100 * TRX)
            order = await insert_package_order(session, user, price_units=7 * TRX)
        async with job_scope(collected.send):
            results = await asyncio.gather(
                *(pay_in_own_transaction(session_maker, order.id) for _ in range(20))
            )
        assert all(results)  # every call answers the paid order
        async with session_maker() as session:
            assert (await balance_service.get_balances(session, user.id)).trx_sun == 93 * TRX
            assert len(await ledger(session, user)) == 2
            row = await session.get(User, user.id)
            assert row is not None and row.total_orders == 1
            assert await paid_balance_orders(session, 10) == [order.id]
        assert collected.sent == []


# --- property test: random sequences of top-ups, payments and refunds -------------------------

ORDERS = 5
operations = st.lists(
    st.one_of(
        st.tuples(st.just("top_up"), st.integers(0, 3), st.integers(1, 40)),
        st.tuples(st.just("pay"), st.integers(0, ORDERS - 1), st.just(0)),
        st.tuples(st.just("refund"), st.integers(0, ORDERS - 1), st.just(0)),
    ),
    max_size=20,
)


class TestOrdersLedgerProperty:
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(ops=operations, prices=st.lists(st.integers(1, 30), min_size=ORDERS, max_size=ORDERS))
    async def test_balance_is_the_ledger_and_causes_apply_once(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        ops: list[tuple[str, int, int]],
        prices: list[int],
    ) -> None:
        async with job_scope(Jobs().send):
            async with transaction_scope(session_maker) as session:
                user = await new_user(session)
                orders = [await insert_package_order(session, user, price_units=p) for p in prices]
            tag = user.id.hex[:12]
            balance = 0
            state = ["pending"] * ORDERS  # pending | paid | refunded
            top_ups: set[int] = set()
            for kind, n, amount in ops:
                async with transaction_scope(session_maker) as session:
                    if kind == "top_up":
                        applied = await balance_service.apply(
                            session,
                            user_id=user.id,
                            currency=Currency.TRX,
                            delta_units=amount,
                            cause_type=LedgerCause.TOP_UP,
                            cause_id=f"{tag}-t{n}-{amount}",
                        )
                        if n * 100 + amount not in top_ups:
                            assert applied.created
                            top_ups.add(n * 100 + amount)
                            balance += amount
                        else:
                            assert not applied.created
                    elif kind == "pay":
                        try:
                            await pay_from_balance(session, orders[n].id)
                        except InsufficientBalance:
                            assert state[n] == "pending" and balance < prices[n]
                        except OrderNotPayable:
                            assert False, "a balance-paid order is answered as it is"
                        else:
                            if state[n] == "pending":
                                assert balance >= prices[n]
                                balance -= prices[n]
                                state[n] = "paid"
                    else:
                        order = await session.get(Order, orders[n].id)
                        assert order is not None
                        if order.status is OrderStatus.PAID:
                            await fail(session, order)
                        refunded = await refund_to_balance(session, order, reason="test")
                        assert refunded == (state[n] == "paid")
                        if refunded:
                            balance += prices[n]
                            state[n] = "refunded"
                async with session_maker() as session:
                    balances = await balance_service.get_balances(session, user.id)
                    assert balances.trx_sun == balance >= 0
                    assert await balance_service.reconcile(session, user_id=user.id) == []
                    entries = await ledger(session, user)
                    causes = [(e.cause_type, e.cause_id) for e in entries]
                    assert len(causes) == len(set(causes))  # each cause applied once
                    debits = sum(1 for c, _ in causes if c is LedgerCause.ORDER_PAYMENT)
                    credits = sum(1 for c, _ in causes if c is LedgerCause.ORDER_REFUND)
                    assert debits == state.count("paid") + state.count("refunded")
                    assert credits == state.count("refunded")
                    row = await session.get(User, user.id)
                    assert row is not None
                    assert row.total_orders == state.count("paid")
                    assert row.total_spent_sun == sum(
                        p for p, s in zip(prices, state, strict=True) if s == "paid"
                    )
