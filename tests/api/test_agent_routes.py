"""Agent routes over HTTP on SQLite and PostgreSQL: authentication, the application review,
agent changes with a reason, withdrawals decided by an admin, clear 4xx for bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from agent.helpers import CFG, TRX, chain_of, delivered_order, new_user
from tronrent.agent.commission import record_commissions, settle_due
from tronrent.agent.withdrawal import withdrawal as withdrawal_service
from tronrent.api.state import AppState
from tronrent.kit.time import utcnow
from tronrent.models.agent_change import AgentAction, AgentChange
from tronrent.models.common import Currency

ADDRESS = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def admin_headers(make_admin: Any, login: Any) -> dict[str, str]:
    name, _ = await make_admin("admin")
    return bearer(await login(name))


@pytest.fixture
async def operator_headers(make_admin: Any, login: Any) -> dict[str, str]:
    name, _ = await make_admin("operator")
    return bearer(await login(name))


#: an id nobody has; fixed, so that every xdist worker collects the same test ids
_UNKNOWN = "00000000-0000-4000-8000-000000000001"

ROUTES = [
    ("POST", "/api/agent-applications"),
    ("POST", "/api/agent-withdrawals"),
    ("GET", "/api/admin/agent-applications"),
    ("POST", f"/api/admin/agent-applications/{_UNKNOWN}/approve"),
    ("POST", f"/api/admin/agent-applications/{_UNKNOWN}/reject"),
    ("GET", "/api/admin/agents"),
    ("GET", f"/api/admin/agents/{_UNKNOWN}"),
    ("PATCH", f"/api/admin/agents/{_UNKNOWN}"),
    ("GET", "/api/admin/agent-earnings"),
    ("GET", "/api/admin/agent-withdrawals"),
    ("POST", "/api/admin/agent-withdrawals/1/approve"),
    ("POST", "/api/admin/agent-withdrawals/1/reject"),
]


class TestAuth:
    @pytest.mark.parametrize(("method", "path"), ROUTES)
    async def test_anonymous_refused(
        self, client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        r = await client.request(method, path, json={})
        assert r.status_code == 401

    async def test_operator_cannot_decide(
        self, client: httpx.AsyncClient, operator_headers: dict[str, str]
    ) -> None:
        r = await client.post(
            f"/api/admin/agent-applications/{uuid.uuid4()}/approve",
            json={"notes": "x"},
            headers=operator_headers,
        )
        assert r.status_code == 403


class TestApplications:
    async def test_file_review_and_list(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        admin_headers: dict[str, str],
    ) -> None:
        async with state.session_maker() as s, s.begin():
            user = await new_user(s)
        body = {
            "userId": str(user.id),
            "businessInfo": {"name": "Tron Shop"},
            "contactInfo": {"telegram": "@shop"},
            "experience": "two years",
            "expectedVolumeSun": 5_000 * TRX,
        }
        r = await client.post("/api/agent-applications", json=body, headers=admin_headers)
        assert r.status_code == 201, r.text
        app_id = r.json()["data"]["applicationId"]
        again = await client.post("/api/agent-applications", json=body, headers=admin_headers)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "APPLICATION_PENDING"
        listed = await client.get(
            "/api/admin/agent-applications?status=pending", headers=admin_headers
        )
        assert [a["applicationId"] for a in listed.json()["data"]] == [app_id]
        blank = await client.post(
            f"/api/admin/agent-applications/{app_id}/approve",
            json={"notes": "  "},
            headers=admin_headers,
        )
        assert blank.status_code == 422
        ok = await client.post(
            f"/api/admin/agent-applications/{app_id}/approve",
            json={"notes": "known shop", "commissionBps": 1500},
            headers=admin_headers,
        )
        assert ok.status_code == 200, ok.text
        agent = ok.json()["data"]
        assert (agent["level"], agent["commissionBps"], agent["status"]) == (1, 1500, "active")
        twice = await client.post(
            f"/api/admin/agent-applications/{app_id}/reject",
            json={"notes": "late"},
            headers=admin_headers,
        )
        assert twice.status_code == 409
        assert twice.json()["error"]["code"] == "APPLICATION_REVIEWED"
        change = await client.patch(
            f"/api/admin/agents/{agent['agentId']}",
            json={"commissionBps": 800, "reason": "volume dropped"},
            headers=admin_headers,
        )
        assert change.status_code == 200 and change.json()["data"]["commissionBps"] == 800
        async with state.session_maker() as s:
            actions = list(
                (
                    await s.execute(select(AgentChange.action).order_by(AgentChange.created_at))
                ).scalars()
            )
        assert actions == [AgentAction.APPROVE_APPLICATION, AgentAction.EDIT_AGENT]

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"userId": "nope"},
            {"userId": str(uuid.uuid4()), "expectedVolumeSun": -1},
            {"userId": str(uuid.uuid4()), "expectedVolumeSun": "1"},
            {"userId": str(uuid.uuid4()), "expectedVolumeSun": 10**30},
        ],
    )
    async def test_bad_input_is_422(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any]
    ) -> None:
        r = await client.post("/api/agent-applications", json=body, headers=admin_headers)
        assert r.status_code == 422, r.text

    async def test_unknown_user_is_404(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        r = await client.post(
            "/api/agent-applications", json={"userId": str(uuid.uuid4())}, headers=admin_headers
        )
        assert r.status_code == 404


class TestWithdrawals:
    async def test_requested_for_the_agent_over_http(
        self, client: httpx.AsyncClient, state: AppState, operator_headers: dict[str, str]
    ) -> None:
        async with state.session_maker() as s, s.begin():
            (agent,), buyer = await chain_of(s, 1)
            order = await delivered_order(s, buyer, 300 * TRX)
            await record_commissions(s, [order.id], CFG)
            await settle_due(s, CFG, now=utcnow() + timedelta(seconds=CFG.refund_window_s + 1))
        body = {
            "userId": str(agent.user_id),
            "currency": "TRX",
            "amountUnits": 20 * TRX,
            "toAddress": ADDRESS,
        }
        r = await client.post("/api/agent-withdrawals", json=body, headers=operator_headers)
        assert r.status_code == 201, r.text
        out = r.json()["data"]
        assert (out["status"], out["amountUnits"], out["toAddress"]) == (
            "approved",
            20 * TRX,
            ADDRESS,
        )
        cases = [
            ({"amountUnits": 20 * TRX}, 409, "INSUFFICIENT_COMMISSION"),  # 30 TRX earned
            ({"amountUnits": TRX}, 422, "WITHDRAWAL_REFUSED"),  # below the minimum
            ({"toAddress": "TNotAnAddress"}, 422, "WITHDRAWAL_REFUSED"),
            ({"currency": "EUR"}, 422, None),
            ({"amountUnits": -5}, 422, None),
            ({"userId": str(buyer.id)}, 404, "AGENT_NOT_FOUND"),
        ]
        for change, status, code in cases:
            r = await client.post(
                "/api/agent-withdrawals", json={**body, **change}, headers=operator_headers
            )
            assert r.status_code == status, (change, r.text)
            if code:
                assert r.json()["error"]["code"] == code

    async def test_reject_then_list(
        self, client: httpx.AsyncClient, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        async with state.session_maker() as s, s.begin():
            (agent,), buyer = await chain_of(s, 1)
            order = await delivered_order(s, buyer, 2000 * TRX)
            await record_commissions(s, [order.id], CFG)
            await settle_due(s, CFG, now=utcnow() + timedelta(seconds=CFG.refund_window_s + 1))
            w = await withdrawal_service.request(
                s,
                agent.user_id,
                currency=Currency.TRX,
                amount_units=150 * TRX,
                to_address=ADDRESS,
                cfg=CFG,
            )
        pending = await client.get(
            "/api/admin/agent-withdrawals?status=pending_review", headers=admin_headers
        )
        assert [x["withdrawalId"] for x in pending.json()["data"]] == [w.id]
        r = await client.post(
            f"/api/admin/agent-withdrawals/{w.id}/reject",
            json={"reason": "unknown address"},
            headers=admin_headers,
        )
        assert r.status_code == 200 and r.json()["data"]["status"] == "rejected"
        again = await client.post(
            f"/api/admin/agent-withdrawals/{w.id}/approve",
            json={"reason": "oops"},
            headers=admin_headers,
        )
        assert again.status_code == 409
        missing = await client.post(
            "/api/admin/agent-withdrawals/999999/approve",
            json={"reason": "x"},
            headers=admin_headers,
        )
        assert missing.status_code == 404
        agent_view = await client.get(f"/api/admin/agents/{agent.id}", headers=admin_headers)
        assert agent_view.json()["data"]["availableBalanceSun"] == 200 * TRX
        earnings = await client.get(
            f"/api/admin/agent-earnings?agentId={agent.id}&status=settled", headers=admin_headers
        )
        assert [e["amountUnits"] for e in earnings.json()["data"]] == [200 * TRX]
        bad = await client.get("/api/admin/agent-earnings?status=nope", headers=admin_headers)
        assert bad.status_code == 422
