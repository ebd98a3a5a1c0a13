"""Agents pages on both databases: applications approved/rejected with notes, agents edited
with a reason, earnings, withdrawals approved (handed to the payout job once) or rejected;
every decision in ``agent_changes`` with who and why."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from agent.helpers import CFG, chain_of, delivered_order, new_user
from tronrent.agent.commission import record_commissions, settle_due
from tronrent.agent.payout import approved_withdrawals
from tronrent.agent.service import agent as agent_service
from tronrent.agent.withdrawal import withdrawal as withdrawal_service
from tronrent.kit.time import utcnow
from tronrent.models import Agent, AgentApplication, ApplicationStatus
from tronrent.models.agent_change import AgentAction, AgentChange
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.common import Currency
from tronrent.user.balance import balance as balance_service

from .conftest import Console

TRX = 1_000_000
ADDRESS = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


async def seed(console: Console) -> tuple[Agent, list[int], uuid.UUID]:
    """An agent with 300 TRX of settled commission and two withdrawals of 101 TRX waiting for
    review (above the 100 TRX auto-approval), and a pending application of another user."""
    async with console.state.session_maker() as s, s.begin():
        (agent,), buyer = await chain_of(s, 1)
        order = await delivered_order(s, buyer, 3000 * TRX)
        await record_commissions(s, [order.id], CFG)
        await settle_due(s, CFG, now=utcnow() + timedelta(seconds=CFG.refund_window_s + 1))
        ids = []
        for _ in range(2):
            w = await withdrawal_service.request(
                s,
                agent.user_id,
                currency=Currency.TRX,
                amount_units=101 * TRX,
                to_address=ADDRESS,
                cfg=CFG,
            )
            assert w.status is WithdrawalStatus.PENDING_REVIEW, w.status
            ids.append(w.id)
        applicant = await new_user(s)
        application = await agent_service.apply(s, applicant.id, experience="telegram shop")
        return agent, ids, application.id


async def changes(console: Console, subject: str) -> list[AgentChange]:
    async with console.state.session_maker() as s:
        rows = await s.execute(
            select(AgentChange)
            .where(AgentChange.subject == subject)
            .order_by(AgentChange.created_at)
        )
        return list(rows.scalars())


async def test_pages_render(console: Console) -> None:
    agent, ids, application = await seed(console)
    http = await console.sign_in("operator")
    home = await http.get("/admin/agents")
    assert home.status_code == 200 and agent.agent_code in home.text
    assert "Applications wait" in home.text and "Withdrawals wait" in home.text
    apps = await http.get("/admin/agents/applications", params={"status": "pending"})
    assert "telegram shop" in apps.text and "decision: admin role" in apps.text
    assert f"/applications/{application}/approve" not in apps.text
    ws = await http.get("/admin/agents/withdrawals", params={"status": "pending_review"})
    assert all(f"<td>{i}</td>" in ws.text for i in ids) and "/approve" not in ws.text
    earned = await http.get("/admin/agents/earnings", params={"agent": str(agent.id)})
    assert "300 TRX" in earned.text and "settled" in earned.text
    detail = await http.get(f"/admin/agents/{agent.id}")
    assert detail.status_code == 200 and "1000 bps" in detail.text and "Save" not in detail.text


async def test_agents_list_pages(console: Console) -> None:
    async with console.state.session_maker() as s, s.begin():
        await chain_of(s, 52)
    http = await console.sign_in("operator")
    row = re.compile(r'href="/admin/agents/([0-9a-f-]{36})">\w+</a></td><td><span class="badge')
    first = await http.get("/admin/agents")
    assert len(row.findall(first.text)) == 50
    older = re.search(r'href="(\?cursor=[^"]+)" rel="next"', first.text)
    assert older
    second = await http.get("/admin/agents" + older.group(1))
    assert len(row.findall(second.text)) == 2
    assert not set(row.findall(first.text)) & set(row.findall(second.text))


async def test_approve_a_withdrawal(console: Console) -> None:
    agent, (first, second), _ = await seed(console)
    http = await console.sign_in("admin")
    page = "/admin/agents/withdrawals?status=pending_review"
    answer = await Console.post(
        http, f"/admin/agents/withdrawals/{first}/approve", page, reason="known customer"
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/agents/withdrawals?done=approved"
    assert "Withdrawal approved" in (await http.get(answer.headers["location"])).text
    again = await Console.post(
        http, f"/admin/agents/withdrawals/{first}/approve", page, reason="twice"
    )
    assert again.status_code == 409  # decided before: nothing more
    rejected = await Console.post(
        http, f"/admin/agents/withdrawals/{second}/reject", page, reason="unknown address"
    )
    assert rejected.headers["location"] == "/admin/agents/withdrawals?done=rejected"
    async with console.state.session_maker() as s:
        w = await s.get(AgentWithdrawal, first)
        assert w is not None and w.status is WithdrawalStatus.APPROVED
        assert w.review_notes == "known customer" and w.reviewed_by is not None
        # what the settle sweep hands to the payout job: the approved one, once
        assert await approved_withdrawals(s) == [first]
        # the rejected amount is back on the user's balance
        assert (await balance_service.get_balances(s, agent.user_id)).trx_sun == 199 * TRX
    made = await changes(console, f"withdrawal:{first}")
    assert [(c.action, c.reason) for c in made] == [
        (AgentAction.APPROVE_WITHDRAWAL, "known customer")
    ]
    assert made[0].actor.startswith("admin:admin_") and made[0].after == {"status": "approved"}
    back = await changes(console, f"withdrawal:{second}")
    assert [c.action for c in back] == [AgentAction.REJECT_WITHDRAWAL]
    detail = (await http.get(f"/admin/agents/{agent.id}")).text
    assert "known customer" in detail and "unknown address" in detail


async def test_applications_and_agent_changes(console: Console) -> None:
    agent, _, application = await seed(console)
    http = await console.sign_in("admin")
    page = "/admin/agents/applications?status=pending"
    approved = await Console.post(
        http,
        f"/admin/agents/applications/{application}/approve",
        page,
        reason="big shop",
        commission_bps="1500",
        parent_agent_id=str(agent.id),
    )
    assert approved.status_code == 303, approved.text
    new_agent = uuid.UUID(approved.headers["location"].split("/")[-1].split("?")[0])
    async with console.state.session_maker() as s:
        made = await s.get(Agent, new_agent)
        assert made is not None and made.commission_bps == 1500
        assert made.parent_agent_id == agent.id
        app = await s.get(AgentApplication, application)
        assert app is not None and app.status is ApplicationStatus.APPROVED
        assert app.review_notes == "big shop"
    edit = await Console.post(
        http,
        f"/admin/agents/{new_agent}",
        f"/admin/agents/{new_agent}",
        level="3",
        commission_bps="1200",
        clear_parent="1",
        status="active",
        reason="renegotiated",
    )
    assert edit.headers["location"] == f"/admin/agents/{new_agent}?done=saved"
    rows = await changes(console, f"agent:{new_agent}")
    assert [(c.action, c.reason) for c in rows] == [(AgentAction.EDIT_AGENT, "renegotiated")]
    # approved under ``agent``: level 2
    assert rows[0].before == {"level": 2, "commissionBps": 1500, "parentAgentId": str(agent.id)}
    assert rows[0].after == {"level": 3, "commissionBps": 1200, "parentAgentId": None}
    text = (await http.get(f"/admin/agents/{new_agent}?done=saved")).text
    assert "renegotiated" in text and "Saved" in text
    # another application, rejected with notes
    async with console.state.session_maker() as s, s.begin():
        other = await agent_service.apply(s, (await new_user(s)).id, experience="x")
    rejected = await Console.post(
        http, f"/admin/agents/applications/{other.id}/reject", page, reason="no business"
    )
    assert rejected.headers["location"] == "/admin/agents/applications?done=rejected"
    assert [c.reason for c in await changes(console, f"application:{other.id}")] == ["no business"]


async def test_operator_refused(console: Console) -> None:
    agent, (first, _), application = await seed(console)
    http = await console.sign_in("operator")
    page = "/admin/agents"
    for path, form in (
        (f"/admin/agents/withdrawals/{first}/approve", {"reason": "mine"}),
        (f"/admin/agents/withdrawals/{first}/reject", {"reason": "mine"}),
        (f"/admin/agents/applications/{application}/approve", {"reason": "mine"}),
        (f"/admin/agents/applications/{application}/reject", {"reason": "mine"}),
        (f"/admin/agents/{agent.id}", {"level": "5", "reason": "mine"}),
    ):
        answer = await Console.post(http, path, page, **form)
        assert answer.status_code == 403 and "admin role" in answer.text, path
    async with console.state.session_maker() as s:
        w = await s.get(AgentWithdrawal, first)
        assert w is not None and w.status is WithdrawalStatus.PENDING_REVIEW


async def test_bad_input_is_a_4xx_page(console: Console) -> None:
    agent, (first, _), application = await seed(console)
    http = await console.sign_in("admin")
    page = "/admin/agents"
    for path, form, status in (
        (f"/admin/agents/{agent.id}", {"commission_bps": "abc", "reason": "typo"}, 422),
        (f"/admin/agents/{agent.id}", {"commission_bps": "10001", "reason": "typo"}, 422),
        (f"/admin/agents/{agent.id}", {"status": "boss", "reason": "typo"}, 422),
        (f"/admin/agents/{agent.id}", {"parent_agent_id": "nope", "reason": "typo"}, 422),
        (f"/admin/agents/{agent.id}", {"level": "1", "reason": "nothing changes"}, 422),
        (f"/admin/agents/{agent.id}", {"parent_agent_id": str(agent.id), "reason": "loop"}, 422),
        (f"/admin/agents/withdrawals/{first}/approve", {"reason": ""}, 422),
        ("/admin/agents/withdrawals/0/approve", {"reason": "zero"}, 422),
        ("/admin/agents/withdrawals/999999/approve", {"reason": "none"}, 404),
        (
            f"/admin/agents/applications/{application}/approve",
            {"reason": "x", "commission_bps": "-1"},
            422,
        ),
        (f"/admin/agents/applications/{uuid.uuid4()}/reject", {"reason": "none"}, 404),
    ):
        answer = await Console.post(http, path, page, **form)
        assert answer.status_code == status, (path, form, answer.text[:300])
        assert "<html" in answer.text
    for url in (
        "/admin/agents?status=boss",
        "/admin/agents?cursor=garbage",
        "/admin/agents/withdrawals?cursor=abc",
        "/admin/agents/earnings?agent=not-a-uuid",
        "/admin/agents/not-a-uuid",
    ):
        assert (await http.get(url)).status_code == 422, url
    assert (await http.get(f"/admin/agents/{uuid.uuid4()}")).status_code == 404
