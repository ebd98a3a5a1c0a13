"""Applications, the commission of a 3-level chain, refunds, settlement - on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.agent.commission import (
    cancel_for_order,
    missing_commission_orders,
    record_commissions,
    settle_due,
    sweep_missing,
)
from tronrent.agent.errors import (
    AlreadyAgent,
    ApplicationPending,
    ApplicationReviewed,
    InvalidAgentChange,
)
from tronrent.agent.service import agent as agent_service
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.time import utcnow
from tronrent.models import Agent, AgentEarning, EarningStatus
from tronrent.models.agent_change import AgentAction, AgentChange
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.order import OrderStatus
from tronrent.models.user import UserRole
from tronrent.user.balance import balance as balance_service

from .helpers import CFG, TRX, chain_of, delivered_order, make_agent, new_admin, new_user


async def earnings(session: AsyncSession, order_id: str) -> list[AgentEarning]:
    rows = await session.execute(
        select(AgentEarning).where(AgentEarning.order_id == order_id).order_by(AgentEarning.level)
    )
    return list(rows.scalars())


class TestApplications:
    async def test_approve_creates_an_agent_under_the_referrers_agent(
        self, session: AsyncSession
    ) -> None:
        agents, buyer = await chain_of(session, 2)
        top, second = agents
        assert (top.level, top.parent_agent_id) == (1, None)
        assert (second.level, second.parent_agent_id) == (2, top.id)
        assert second.commission_bps == CFG.levels_bps[0]
        for a in agents:  # each referred one user after its approval
            await session.refresh(a)
            assert a.total_referrals == 1
        user = await session.get(type(buyer), second.user_id)
        assert user is not None and user.role is UserRole.AGENT
        assert second.agent_code == user.referral_code
        changes = (
            await session.execute(
                select(func.count())
                .select_from(AgentChange)
                .where(AgentChange.action == AgentAction.APPROVE_APPLICATION)
            )
        ).scalar_one()
        assert changes >= 2

    async def test_one_pending_application_per_user(self, session: AsyncSession) -> None:
        user = await new_user(session)
        await agent_service.apply(session, user.id)
        with pytest.raises(ApplicationPending):
            await agent_service.apply(session, user.id)

    async def test_reject_needs_notes_and_happens_once(self, session: AsyncSession) -> None:
        actor = await new_admin(session)
        user = await new_user(session)
        app = await agent_service.apply(session, user.id)
        with pytest.raises(ValidationFailed):
            await agent_service.reject(session, app.id, actor=actor, notes="  ")
        rejected = await agent_service.reject(session, app.id, actor=actor, notes="no volume")
        assert rejected.status.value == "rejected" and rejected.reviewed_by == actor.admin_id
        assert rejected.reviewed_at is not None and rejected.review_notes == "no volume"
        with pytest.raises(ApplicationReviewed):
            await agent_service.approve(session, app.id, actor=actor, notes="x", cfg=CFG)

    async def test_an_agent_cannot_apply_again(self, session: AsyncSession) -> None:
        agents, _ = await chain_of(session, 1)
        with pytest.raises(AlreadyAgent):
            await agent_service.apply(session, agents[0].user_id)

    async def test_parent_cycle_refused(self, session: AsyncSession) -> None:
        actor = await new_admin(session)
        (top, second), _ = await chain_of(session, 2)
        with pytest.raises(InvalidAgentChange):
            await agent_service.edit(
                session, top.id, actor=actor, reason="move", parent_agent_id=second.id
            )


class TestCommission:
    async def test_three_levels_earn_their_shares_once(self, session: AsyncSession) -> None:
        agents, buyer = await chain_of(session, 3)
        order = await delivered_order(session, buyer, 20 * TRX)
        assert await record_commissions(session, [order.id], CFG) == 3
        assert await record_commissions(session, [order.id], CFG) == 0  # idempotent
        rows = await earnings(session, order.id)
        # the buyer's referrer (agents[2]) is level 1
        assert [(r.agent_id, r.level, r.amount_units, r.commission_bps) for r in rows] == [
            (agents[2].id, 1, 2 * TRX, 1000),
            (agents[1].id, 2, 600_000, 300),
            (agents[0].id, 3, 200_000, 100),
        ]
        assert all(
            r.status is EarningStatus.PENDING and r.base_amount_units == 20 * TRX for r in rows
        )

    async def test_undelivered_or_refunded_orders_earn_nothing(self, session: AsyncSession) -> None:
        _, buyer = await chain_of(session, 2)
        refunded = await delivered_order(session, buyer, 5 * TRX, status=OrderStatus.REFUNDED)
        pending = await delivered_order(session, buyer, 5 * TRX, status=OrderStatus.PAID)
        assert await record_commissions(session, [refunded.id, pending.id], CFG) == 0

    async def test_refund_reverses_pending_earnings(self, session: AsyncSession) -> None:
        _, buyer = await chain_of(session, 3)
        order = await delivered_order(session, buyer, 5 * TRX)
        await record_commissions(session, [order.id], CFG)
        assert await cancel_for_order(session, order.id) == 3
        rows = await earnings(session, order.id)
        assert {r.status for r in rows} == {EarningStatus.CANCELLED}

    async def test_a_rate_changed_later_keeps_past_earnings(self, session: AsyncSession) -> None:
        actor = await new_admin(session)
        agents, buyer = await chain_of(session, 1)
        first = await delivered_order(session, buyer, 10 * TRX)
        await record_commissions(session, [first.id], CFG)
        await agent_service.edit(
            session, agents[0].id, actor=actor, reason="promotion", commission_bps=2000
        )
        second = await delivered_order(session, buyer, 10 * TRX)
        await record_commissions(session, [second.id], CFG)
        assert [r.amount_units for r in await earnings(session, first.id)] == [TRX]
        assert [r.amount_units for r in await earnings(session, second.id)] == [2 * TRX]

    async def test_a_suspended_agent_earns_nothing_the_one_above_does(
        self, session: AsyncSession
    ) -> None:
        actor = await new_admin(session)
        (top, middle), buyer = await chain_of(session, 2)
        await agent_service.edit(
            session, middle.id, actor=actor, reason="fraud", status=type(middle.status)("suspended")
        )
        order = await delivered_order(session, buyer, 10 * TRX)
        await record_commissions(session, [order.id], CFG)
        assert [(r.agent_id, r.level) for r in await earnings(session, order.id)] == [(top.id, 2)]


class TestAgentBotOrders:
    async def test_the_bots_agent_heads_the_chain_and_keeps_its_markup(
        self, session: AsyncSession
    ) -> None:
        (top, seller), _ = await chain_of(session, 2)
        # the buyer was referred by someone else's chain: the bot that took the order decides
        (other,), buyer = await chain_of(session, 1)
        # 22 TRX paid = 20 TRX operator price + 2 TRX markup (10 %)
        order = await delivered_order(session, buyer, 22 * TRX, agent=seller, markup=2 * TRX)
        assert await record_commissions(session, [order.id], CFG) == 3
        assert await record_commissions(session, [order.id], CFG) == 0
        rows = await earnings(session, order.id)
        got = sorted((r.agent_id, r.earning_type.value, r.amount_units) for r in rows)
        assert got == sorted(
            [
                (seller.id, "bonus", 2 * TRX),
                (seller.id, "commission", 2 * TRX),  # 10 % of 20 TRX (markup excluded)
                (top.id, "commission", 600_000),
            ]
        )
        assert all(r.base_amount_units == 20 * TRX for r in rows)
        assert other.id not in {r.agent_id for r in rows}

    async def test_an_order_of_a_buyer_nobody_referred_earns_through_the_bot(
        self, session: AsyncSession
    ) -> None:
        (seller,), _ = await chain_of(session, 1)
        buyer = await new_user(session)
        order = await delivered_order(session, buyer, 10 * TRX, agent=seller)
        assert await record_commissions(session, [order.id], CFG) == 1
        assert [(r.agent_id, r.amount_units) for r in await earnings(session, order.id)] == [
            (seller.id, TRX)
        ]


class TestSweep:
    async def test_writes_the_commission_a_lost_job_left_out_once(
        self, session: AsyncSession
    ) -> None:
        (top, seller), buyer = await chain_of(session, 2)
        lost = await delivered_order(session, buyer, 10 * TRX)
        by_bot = await delivered_order(session, await new_user(session), 10 * TRX, agent=seller)
        done = await delivered_order(session, buyer, 10 * TRX)
        await record_commissions(session, [done.id], CFG)  # its job ran
        undelivered = await delivered_order(session, buyer, 10 * TRX, status=OrderStatus.PAID)
        nobody = await delivered_order(session, await new_user(session), 10 * TRX)
        found = await missing_commission_orders(session, since=utcnow() - timedelta(hours=1))
        assert set(found) >= {lost.id, by_bot.id}
        assert not set(found) & {done.id, undelivered.id, nobody.id}
        assert await sweep_missing(session, CFG) == 4  # 2 levels each
        assert await sweep_missing(session, CFG) == 0  # idempotent
        assert [r.agent_id for r in await earnings(session, lost.id)] == [seller.id, top.id]
        assert len(await earnings(session, done.id)) == 2  # untouched

    async def test_orders_outside_the_window_are_left(self, session: AsyncSession) -> None:
        _, buyer = await chain_of(session, 1)
        order = await delivered_order(session, buyer, 10 * TRX)
        later = utcnow() + timedelta(seconds=CFG.sweep_lookback_s + 60)
        assert await sweep_missing(session, CFG, now=later) == 0
        assert await earnings(session, order.id) == []

    async def test_orders_paid_before_the_referrer_became_an_agent_are_left(
        self, session: AsyncSession
    ) -> None:
        actor = await new_admin(session)
        referrer = await new_user(session)
        buyer = await new_user(session, referrer)
        order = await delivered_order(session, buyer, 10 * TRX)
        order.paid_at = utcnow() - timedelta(minutes=5)
        await session.flush()
        await make_agent(session, actor, referrer)
        assert order.id not in await missing_commission_orders(
            session, since=utcnow() - timedelta(hours=1)
        )


class TestSettlement:
    async def test_due_earnings_go_to_the_balance_once(self, session: AsyncSession) -> None:
        agents, buyer = await chain_of(session, 3)
        order = await delivered_order(session, buyer, 20 * TRX)
        await record_commissions(session, [order.id], CFG)
        assert await settle_due(session, CFG) == 0  # still inside the refund window
        later = utcnow() + timedelta(seconds=CFG.refund_window_s + 1)
        assert await settle_due(session, CFG, now=later) == 3
        assert await settle_due(session, CFG, now=later) == 0
        for a, amount in zip(agents, (200_000, 600_000, 2 * TRX), strict=True):
            balances = await balance_service.get_balances(session, a.user_id)
            assert balances.trx_sun == amount
            fresh = await session.get(Agent, a.id, populate_existing=True)
            assert fresh is not None
            assert fresh.total_earnings_sun == fresh.available_balance_sun == amount
            assert fresh.last_settlement_at is not None
        causes = (
            await session.execute(
                select(func.count())
                .select_from(BalanceLedgerEntry)
                .where(BalanceLedgerEntry.cause_type == LedgerCause.COMMISSION)
            )
        ).scalar_one()
        assert causes >= 3
        assert await balance_service.reconcile(session) == []

    async def test_a_refunded_order_is_cancelled_not_settled(self, session: AsyncSession) -> None:
        agents, buyer = await chain_of(session, 1)
        order = await delivered_order(session, buyer, 20 * TRX)
        await record_commissions(session, [order.id], CFG)
        order.status = OrderStatus.REFUNDED
        await session.flush()
        later = utcnow() + timedelta(seconds=CFG.refund_window_s + 1)
        assert await settle_due(session, CFG, now=later) == 0
        assert {r.status for r in await earnings(session, order.id)} == {EarningStatus.CANCELLED}
        assert (await balance_service.get_balances(session, agents[0].user_id)).trx_sun == 0
