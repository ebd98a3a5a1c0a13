"""Admin routes over customers (/api/admin/users...): auth, search, detail, ledger, balance
adjustments (idempotent, 409 on overdraft, 4xx on bad input) and block/unblock."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tronrent.api.state import AppState
from tronrent.models import User, UserStatus
from tronrent.user.balance import balance as balance_service

BASE = "/api/admin/users"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def customer(state: AppState) -> User:
    async with state.session_maker() as session, session.begin():
        user = User(
            id=uuid.uuid4(),
            telegram_id=10**9 + uuid.uuid4().int % 10**9,
            username="Alice_Tron",
            referral_code="ABCD2345",
        )
        session.add(user)
    return user


@pytest.fixture
async def admin_headers(make_admin: Any, login: Any) -> dict[str, str]:
    name, _ = await make_admin("admin")
    return bearer(await login(name))


@pytest.fixture
async def operator_headers(make_admin: Any, login: Any) -> dict[str, str]:
    name, _ = await make_admin("operator")
    return bearer(await login(name))


def adjustment(amount: Any = 5_000_000, **overrides: Any) -> dict[str, Any]:
    body = {"currency": "TRX", "amount": amount, "reason": "goodwill", "reference": "adj-1"}
    body.update(overrides)
    return body


class TestAuth:
    @pytest.mark.parametrize(
        ("method", "suffix"),
        [
            ("GET", ""),
            ("GET", "/{id}"),
            ("GET", "/{id}/ledger"),
            ("POST", "/{id}/balance-adjustments"),
            ("POST", "/{id}/block"),
            ("POST", "/{id}/unblock"),
        ],
    )
    async def test_token_required(
        self, client: Any, customer: User, method: str, suffix: str
    ) -> None:
        response = await client.request(
            method, BASE + suffix.format(id=customer.id), json=adjustment()
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "NOT_LOGGED_IN"

    async def test_operator_reads_but_cannot_adjust(
        self, client: Any, customer: User, operator_headers: dict[str, str]
    ) -> None:
        read = await client.get(f"{BASE}/{customer.id}", headers=operator_headers)
        assert read.status_code == 200
        write = await client.post(
            f"{BASE}/{customer.id}/balance-adjustments", json=adjustment(), headers=operator_headers
        )
        assert write.status_code == 403
        assert write.json()["error"]["code"] == "ROLE_NOT_ALLOWED"


class TestSearchAndDetail:
    @pytest.mark.parametrize("query", ["alice", "@ALICE_tron", "abcd2345", "{telegram_id}"])
    async def test_search(
        self, client: Any, customer: User, operator_headers: dict[str, str], query: str
    ) -> None:
        response = await client.get(
            BASE,
            params={"search": query.format(telegram_id=customer.telegram_id)},
            headers=operator_headers,
        )
        assert response.status_code == 200
        assert [u["userId"] for u in response.json()["data"]] == [str(customer.id)]

    async def test_search_no_match(
        self, client: Any, customer: User, operator_headers: dict[str, str]
    ) -> None:
        response = await client.get(BASE, params={"search": "bob%"}, headers=operator_headers)
        assert response.json()["data"] == []
        # "²" and "٣" are digits to str.isdigit() but not to int(): a search, not a 500
        for query in ("²", "١٢٣"):
            response = await client.get(BASE, params={"search": query}, headers=operator_headers)
            assert response.status_code == 200 and response.json()["data"] == []

    async def test_detail_and_unknown(
        self, client: Any, customer: User, operator_headers: dict[str, str]
    ) -> None:
        data = (await client.get(f"{BASE}/{customer.id}", headers=operator_headers)).json()["data"]
        assert data["trxBalanceSun"] == 0 and data["usdtBalanceUnits"] == 0
        assert data["status"] == "active"
        missing = await client.get(f"{BASE}/{uuid.uuid4()}", headers=operator_headers)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "USER_NOT_FOUND"
        bad = await client.get(f"{BASE}/not-a-uuid", headers=operator_headers)
        assert bad.status_code == 422
        assert bad.json()["success"] is False


class TestAdjustments:
    async def test_credit_then_idempotent_repeat(
        self, client: Any, state: AppState, customer: User, admin_headers: dict[str, str]
    ) -> None:
        url = f"{BASE}/{customer.id}/balance-adjustments"
        first = await client.post(url, json=adjustment(), headers=admin_headers)
        assert first.status_code == 201, first.text
        entry = first.json()["data"]["entry"]
        assert entry["causeType"] == "adjustment" and entry["causeId"] == "adj-1"
        assert entry["deltaUnits"] == 5_000_000 and entry["balanceAfterUnits"] == 5_000_000
        assert '"reason": "goodwill"' in entry["note"] and '"by": "admin_' in entry["note"]
        again = await client.post(url, json=adjustment(), headers=admin_headers)
        assert again.status_code == 200
        assert again.json()["data"] == {"entry": entry, "created": False}
        other_currency = await client.post(
            url, json=adjustment(currency="USDT"), headers=admin_headers
        )
        assert other_currency.status_code == 409
        assert other_currency.json()["error"]["code"] == "LEDGER_CAUSE_REUSED"
        async with state.session_maker() as session:
            balances = await balance_service.get_balances(session, customer.id)
            assert (balances.trx_sun, balances.usdt_units) == (5_000_000, 0)
            assert await balance_service.reconcile(session) == []

    async def test_debit_below_zero_is_409(
        self, client: Any, state: AppState, customer: User, admin_headers: dict[str, str]
    ) -> None:
        url = f"{BASE}/{customer.id}/balance-adjustments"
        await client.post(url, json=adjustment(2_000_000, reference="c"), headers=admin_headers)
        response = await client.post(
            url, json=adjustment(-3_000_000, reference="d"), headers=admin_headers
        )
        assert response.status_code == 409
        body = response.json()
        assert body["success"] is False
        assert body["error"]["code"] == "INSUFFICIENT_BALANCE"
        ledger = await client.get(f"{BASE}/{customer.id}/ledger", headers=admin_headers)
        assert [e["causeId"] for e in ledger.json()["data"]["items"]] == ["c"]
        ok = await client.post(
            url, json=adjustment(-2_000_000, reference="d"), headers=admin_headers
        )
        assert ok.json()["data"]["entry"]["balanceAfterUnits"] == 0

    @pytest.mark.parametrize(
        "body",
        [
            adjustment(0),
            adjustment("5"),
            adjustment(1.5),
            adjustment(10**16),
            adjustment(currency="BTC"),
            adjustment(reason=""),
            adjustment(reason="   "),
            adjustment(reference=""),
            adjustment(reference="x" * 101),
            {"currency": "TRX", "amount": 1, "reference": "r"},
            {"currency": "TRX", "amount": 1, "reason": "why"},
        ],
    )
    async def test_bad_input_is_422(
        self,
        client: Any,
        state: AppState,
        customer: User,
        admin_headers: dict[str, str],
        body: dict[str, Any],
    ) -> None:
        response = await client.post(
            f"{BASE}/{customer.id}/balance-adjustments", json=body, headers=admin_headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["success"] is False
        async with state.session_maker() as session:
            assert (await balance_service.list_entries(session, customer.id)).entries == []

    async def test_unknown_user_is_404(self, client: Any, admin_headers: dict[str, str]) -> None:
        response = await client.post(
            f"{BASE}/{uuid.uuid4()}/balance-adjustments", json=adjustment(), headers=admin_headers
        )
        assert response.status_code == 404


class TestLedger:
    async def test_pages(self, client: Any, customer: User, admin_headers: dict[str, str]) -> None:
        url = f"{BASE}/{customer.id}/balance-adjustments"
        for i in range(5):
            await client.post(url, json=adjustment(i + 1, reference=f"p{i}"), headers=admin_headers)
        seen: list[int] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = (
                await client.get(
                    f"{BASE}/{customer.id}/ledger", params=params, headers=admin_headers
                )
            ).json()["data"]
            seen += [e["deltaUnits"] for e in page["items"]]
            if page["nextBefore"] is None:
                break
            params["before"] = page["nextBefore"]
        assert seen == [5, 4, 3, 2, 1]


class TestBlock:
    async def test_block_and_unblock(
        self, client: Any, state: AppState, customer: User, admin_headers: dict[str, str]
    ) -> None:
        blocked = await client.post(
            f"{BASE}/{customer.id}/block", json={"reason": "fraud report"}, headers=admin_headers
        )
        assert blocked.status_code == 200
        data = blocked.json()["data"]
        assert (data["status"], data["previousStatus"], data["reason"]) == (
            "banned",
            "active",
            "fraud report",
        )
        assert data["by"].startswith("admin_")
        async with state.session_maker() as session:
            user = await session.get(User, customer.id)
            assert user is not None and user.status is UserStatus.BANNED
        unblocked = await client.post(
            f"{BASE}/{customer.id}/unblock", json={"reason": "cleared"}, headers=admin_headers
        )
        assert unblocked.json()["data"]["status"] == "active"

    async def test_reason_required(
        self, client: Any, customer: User, admin_headers: dict[str, str]
    ) -> None:
        for body in ({}, {"reason": ""}, {"reason": "  "}):
            response = await client.post(
                f"{BASE}/{customer.id}/block", json=body, headers=admin_headers
            )
            assert response.status_code == 422
