"""Withdrawal requests and reviews on SQLite and PostgreSQL: 20 concurrent requests never take
more than the settled commission, the minimum and fee, review above the threshold."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.agent.commission import record_commissions, settle_due
from tronrent.agent.errors import (
    CommissionExceedsBalance,
    WithdrawalNotPending,
    WithdrawalRefused,
)
from tronrent.agent.withdrawal import withdrawal as withdrawal_service
from tronrent.kit.db import transaction_scope
from tronrent.kit.errors import AppError
from tronrent.kit.time import utcnow
from tronrent.models import Agent
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.common import Currency
from tronrent.user.balance import balance as balance_service

from .helpers import CFG, TRX, chain_of, delivered_order, new_admin

ADDRESS = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


async def earning_agent(session: AsyncSession, price: int) -> Agent:
    """An agent whose settled commission is 10 % of ``price``."""
    (agent,), buyer = await chain_of(session, 1)
    order = await delivered_order(session, buyer, price)
    await record_commissions(session, [order.id], CFG)
    await settle_due(session, CFG, now=utcnow() + timedelta(seconds=CFG.refund_window_s + 1))
    return agent


class TestRequest:
    async def test_twenty_concurrent_requests_never_exceed_the_balance(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with transaction_scope(session_maker) as s:
            agent = await earning_agent(s, 1000 * TRX)  # 100 TRX settled

        async def ask() -> bool:
            try:
                async with transaction_scope(session_maker) as s:
                    await withdrawal_service.request(
                        s,
                        agent.user_id,
                        currency=Currency.TRX,
                        amount_units=15 * TRX,
                        to_address=ADDRESS,
                        cfg=CFG,
                    )
            except CommissionExceedsBalance:
                return False
            return True

        results = await asyncio.gather(*(ask() for _ in range(20)))
        assert results.count(True) == 6  # 6 x 15 <= 100 < 7 x 15
        async with session_maker() as s:
            fresh = await s.get(Agent, agent.id)
            assert fresh is not None and fresh.available_balance_sun == 10 * TRX
            assert (await balance_service.get_balances(s, agent.user_id)).trx_sun == 10 * TRX
            count = (
                await s.execute(
                    select(func.count())
                    .select_from(AgentWithdrawal)
                    .where(AgentWithdrawal.agent_id == agent.id)
                )
            ).scalar_one()
            assert count == 6
            assert await balance_service.reconcile(s, user_id=agent.user_id) == []

    async def test_only_commission_is_withdrawable(self, session: AsyncSession) -> None:
        agent = await earning_agent(session, 100 * TRX)  # 10 TRX settled
        await balance_service.apply(
            session,
            user_id=agent.user_id,
            currency=Currency.TRX,
            delta_units=50 * TRX,
            cause_type=LedgerCause.TOP_UP,
            cause_id="top-up-1",
        )
        with pytest.raises(CommissionExceedsBalance):
            await withdrawal_service.request(
                session,
                agent.user_id,
                currency=Currency.TRX,
                amount_units=11 * TRX,
                to_address=ADDRESS,
                cfg=CFG,
            )

    @pytest.mark.parametrize(
        ("amount", "address"),
        [
            (5 * TRX, ADDRESS),
            (10 * TRX, "not-an-address"),
            (10 * TRX, ADDRESS[:-1] + "8"),
            # beyond what a ledger entry holds (the bot's free text): refused, no database error
            (10**26, ADDRESS),
        ],
    )
    async def test_refused(self, session: AsyncSession, amount: int, address: str) -> None:
        agent = await earning_agent(session, 100 * TRX)
        with pytest.raises(WithdrawalRefused):
            await withdrawal_service.request(
                session,
                agent.user_id,
                currency=Currency.TRX,
                amount_units=amount,
                to_address=address,
                cfg=CFG,
            )

    async def test_fee_and_auto_approval(self, session: AsyncSession) -> None:
        agent = await earning_agent(session, 100 * TRX)
        w = await withdrawal_service.request(
            session,
            agent.user_id,
            currency=Currency.TRX,
            amount_units=10 * TRX,
            to_address=ADDRESS,
            cfg=CFG,
        )
        assert (w.status, w.fee_units, w.payout_units) == (
            WithdrawalStatus.APPROVED,
            TRX,
            9 * TRX,
        )


class TestReview:
    async def big_request(self, session: AsyncSession) -> tuple[Agent, AgentWithdrawal]:
        agent = await earning_agent(session, 2000 * TRX)  # 200 TRX settled
        w = await withdrawal_service.request(
            session,
            agent.user_id,
            currency=Currency.TRX,
            amount_units=150 * TRX,
            to_address=ADDRESS,
            cfg=CFG,
        )
        assert w.status is WithdrawalStatus.PENDING_REVIEW  # above 100 TRX
        return agent, w

    async def test_reject_returns_the_amount(self, session: AsyncSession) -> None:
        actor = await new_admin(session)
        agent, w = await self.big_request(session)
        assert (await balance_service.get_balances(session, agent.user_id)).trx_sun == 50 * TRX
        with pytest.raises(AppError):
            await withdrawal_service.reject(session, w.id, actor=actor, reason=" ")
        await withdrawal_service.reject(session, w.id, actor=actor, reason="address unknown")
        assert (await balance_service.get_balances(session, agent.user_id)).trx_sun == 200 * TRX
        fresh = await session.get(Agent, agent.id, populate_existing=True)
        assert fresh is not None and fresh.available_balance_sun == 200 * TRX
        with pytest.raises(WithdrawalNotPending):
            await withdrawal_service.approve(session, w.id, actor=actor, reason="oops")
        assert await balance_service.reconcile(session, user_id=agent.user_id) == []

    async def test_approve_once(self, session: AsyncSession) -> None:
        actor = await new_admin(session)
        _, w = await self.big_request(session)
        approved = await withdrawal_service.approve(session, w.id, actor=actor, reason="known")
        assert approved.status is WithdrawalStatus.APPROVED
        assert approved.reviewed_by == actor.admin_id
        with pytest.raises(WithdrawalNotPending):
            await withdrawal_service.reject(session, w.id, actor=actor, reason="late")
