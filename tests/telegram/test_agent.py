"""/agent against the Bot API emulator: the referral link, an application, an agent's
earnings by status and balance, a withdrawal request."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from agent.helpers import CFG, TRX, delivered_order, new_admin, new_user
from tronrent.agent.commission import record_commissions, settle_due
from tronrent.agent.service import agent as agent_service
from tronrent.kit.time import utcnow
from tronrent.models import AgentApplication, ApplicationStatus, User
from tronrent.models.agent_withdrawal import AgentWithdrawal

from .conftest import Harness

ADDRESS = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


async def user_of(harness: Harness, chat: int) -> User:
    async with harness.session_maker() as s:
        return (await s.execute(select(User).where(User.telegram_id == chat))).scalar_one()


class TestAgent:
    async def test_link_apply_earn_withdraw(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 1501
        await harness.say(token, "/start", user_id=chat)
        text = (await harness.say(token, "/agent", user_id=chat))[-1].text
        me = await user_of(harness, chat)
        assert f"?start={me.referral_code}" in text and "/agent apply" in text

        usage = (await harness.say(token, "/agent apply", user_id=chat))[-1].text
        assert "after /agent apply" in usage
        applied = (await harness.say(token, "/agent apply shop @me", user_id=chat))[-1].text
        assert "Application sent" in applied
        again = (await harness.say(token, "/agent apply shop @me", user_id=chat))[-1].text
        assert "already have an application" in again
        assert "under review" in (await harness.say(token, "/agent", user_id=chat))[-1].text

        async with harness.session_maker() as s, s.begin():
            application = (
                await s.execute(select(AgentApplication).where(AgentApplication.user_id == me.id))
            ).scalar_one()
            assert application.status is ApplicationStatus.PENDING
            assert application.experience == "shop @me"
            actor = await new_admin(s)
            await agent_service.approve(s, application.id, actor=actor, notes="ok", cfg=CFG)
            # a user referred by the new agent buys twice: one order settles, one is pending
            buyer = await new_user(s, me)
            settled = await delivered_order(s, buyer, 500 * TRX)
            await record_commissions(s, [settled.id], CFG)
            await settle_due(s, CFG, now=utcnow() + timedelta(seconds=CFG.refund_window_s + 1))
            pending = await delivered_order(s, buyer, 30 * TRX)
            await record_commissions(s, [pending.id], CFG)

        text = (await harness.say(token, "/agent", user_id=chat))[-1].text
        assert "Agent (active)" in text and "commission: 10%" in text
        assert "Referred users: 1" in text
        assert "Pending: 3 TRX (1)" in text and "Settled: 50 TRX (1)" in text
        assert "Withdrawable commission: 50 TRX · 0 USDT" in text

        bad = (await harness.say(token, "/agent withdraw TRX 1.5 x", user_id=chat))[-1].text
        assert "Withdrawal refused" in bad
        usage = (await harness.say(token, "/agent withdraw EUR 1", user_id=chat))[-1].text
        assert "Usage" in usage
        too_much = (await harness.say(token, f"/agent withdraw TRX 60 {ADDRESS}", user_id=chat))[
            -1
        ].text
        assert "commission is too low" in too_much
        ok = (await harness.say(token, f"/agent withdraw TRX 20 {ADDRESS}", user_id=chat))[-1].text
        assert "Withdrawal of 20 TRX accepted (you receive 19 TRX): being paid" in ok
        text = (await harness.say(token, "/agent", user_id=chat))[-1].text
        assert "Withdrawable commission: 30 TRX" in text
        assert "Withdrawal 20 TRX: being paid" in text
        async with harness.session_maker() as s:
            rows = (await s.execute(select(AgentWithdrawal))).scalars().all()
            assert [(w.amount_units, w.to_address) for w in rows] == [(20 * TRX, ADDRESS)]
