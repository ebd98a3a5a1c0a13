"""Admin search routes (/api/admin/orders, /api/admin/payments): every filter, keyset pages
that stay stable while rows are inserted, the order story, auth, and a clear 4xx for every bad
cursor, date or filter - on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tronproto.address import to_base58
from tronrent.api.app import create_app
from tronrent.api.state import AppState
from tronrent.config import Settings
from tronrent.models import User
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.order import admin_endpoints as order_routes
from tronrent.payment import admin_endpoints as payment_routes

ORDERS = "/api/admin/orders"
PAYMENTS = "/api/admin/payments"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def address() -> str:
    return to_base58(b"\x41" + os.urandom(20))


def txid() -> str:
    return os.urandom(32).hex()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, routers=(order_routes.router, payment_routes.router))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def headers(make_admin: Any, login: Any) -> dict[str, str]:
    name, _ = await make_admin("operator")
    return {"Authorization": f"Bearer {await login(name)}"}


_seq = iter(range(10**9))


def make_order(minutes: float, **kw: Any) -> Order:
    oid = kw.pop("id", f"T_{next(_seq):09d}_{uuid.uuid4().hex[:6]}")
    values: dict[str, Any] = {
        "id": oid,
        "order_number": oid,
        "order_type": OrderType.ENERGY_FLASH,
        "status": OrderStatus.PENDING,
        "target_address": address(),
        "payment_address": FLASH,
        "created_at": T0 + timedelta(minutes=minutes),
    }
    values.update(kw)
    return Order(**values)


def make_payment(minutes: float, **kw: Any) -> Payment:
    values: dict[str, Any] = {
        "tx_hash": txid(),
        "asset": Currency.TRX,
        "from_address": address(),
        "to_address": FLASH,
        "amount_units": 2_000_000,
        "block_number": 100,
        "status": PaymentStatus.MATCHED,
        "created_at": T0 + timedelta(minutes=minutes),
    }
    values.update(kw)
    return Payment(**values)


FLASH = address()


async def add(state: AppState, *rows: Any) -> None:
    async with state.session_maker() as s, s.begin():
        s.add_all(rows)


async def ids(client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any) -> list:
    r = await client.get(url, headers=headers, params=params)
    assert r.status_code == 200, r.text
    key = "orderId" if url == ORDERS else "paymentId"
    return [item[key] for item in r.json()["data"]["items"]]


async def walk(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> list[Any]:
    """Every page, following nextCursor."""
    key = "orderId" if url.startswith(ORDERS) else "paymentId"
    seen: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await client.get(url, headers=headers, params=query)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        seen += [item[key] for item in data["items"]]
        cursor = data["nextCursor"]
        if cursor is None:
            return seen


class TestOrderFilters:
    async def test_each_filter(
        self, client: httpx.AsyncClient, state: AppState, headers: dict[str, str]
    ) -> None:
        user = User(id=uuid.uuid4(), username="bob")
        payer, recipient = address(), address()
        delegate_tx, pay_tx, signed_tx, own_tx = txid(), txid(), txid(), txid()
        a = make_order(1, status=OrderStatus.ACTIVE, user_id=user.id, from_address=payer)
        b = make_order(2, order_type=OrderType.ENERGY_RENTAL, target_address=recipient)
        c = make_order(3, delegate_tx_hash=delegate_tx, tron_tx_hash=own_tx)
        d = make_order(4, payment_address=address())
        await add(state, user)
        await add(state, a, b, c, d)
        await add(
            state,
            make_payment(5, tx_hash=pay_tx, order_id=b.id),
            ChainTransaction(
                purpose=ChainTxPurpose.UNDELEGATE,
                txid=signed_tx,
                owner_address=FLASH,
                raw_data={},
                raw_data_hex="00",
                signatures=[],
                expiration_ms=0,
                status=ChainTxStatus.CONFIRMED,
                order_id=a.id,
            ),
        )
        mine = {"createdFrom": T0.isoformat(), "createdTo": (T0 + timedelta(hours=1)).isoformat()}
        assert await ids(client, ORDERS, headers, **mine) == [d.id, c.id, b.id, a.id]
        assert await ids(client, ORDERS, headers, status="active", **mine) == [a.id]
        assert await ids(client, ORDERS, headers, type="energy_rental", **mine) == [b.id]
        assert await ids(client, ORDERS, headers, userId=str(user.id)) == [a.id]
        assert await ids(client, ORDERS, headers, address=payer) == [a.id]
        assert await ids(client, ORDERS, headers, address=recipient) == [b.id]
        assert await ids(client, ORDERS, headers, address=d.payment_address) == [d.id]
        assert await ids(client, ORDERS, headers, txHash=delegate_tx) == [c.id]
        assert await ids(client, ORDERS, headers, txHash=own_tx) == [c.id]
        assert await ids(client, ORDERS, headers, txHash=pay_tx) == [b.id]
        assert await ids(client, ORDERS, headers, txHash=signed_tx) == [a.id]
        assert await ids(client, ORDERS, headers, txHash=txid()) == []
        window = {
            "createdFrom": (T0 + timedelta(minutes=2)).isoformat(),
            "createdTo": (T0 + timedelta(minutes=4)).isoformat(),  # exclusive
        }
        assert await ids(client, ORDERS, headers, **window) == [c.id, b.id]
        # filters combine
        assert await ids(client, ORDERS, headers, status="active", address=recipient) == []

    async def test_story(
        self, client: httpx.AsyncClient, state: AppState, headers: dict[str, str]
    ) -> None:
        o = make_order(1, status=OrderStatus.PAID, paid_at=T0 + timedelta(minutes=2))
        await add(state, o)
        p = make_payment(2, order_id=o.id, block_timestamp=T0 + timedelta(minutes=1, seconds=30))
        await add(state, p)
        r = await client.get(f"{ORDERS}/{o.id}", headers=headers)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["orderId"] == o.id
        assert [x["txHash"] for x in data["payments"]] == [p.tx_hash]
        kinds = [e["kind"] for e in data["timeline"]]
        assert kinds[:2] == ["order_created", "payment_received"]
        assert "order_paid" in kinds
        stamps = [e["at"] for e in data["timeline"]]
        assert stamps == sorted(stamps)
        r = await client.get(f"{ORDERS}/nope", headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "ORDER_NOT_FOUND")


class TestPaymentFilters:
    async def test_each_filter_and_problems(
        self, client: httpx.AsyncClient, state: AppState, headers: dict[str, str]
    ) -> None:
        sender = address()
        o = make_order(0)
        await add(state, o)
        matched = make_payment(1, order_id=o.id, from_address=sender)
        dust = make_payment(2, status=PaymentStatus.DUST, amount_units=10)
        usdt = make_payment(3, status=PaymentStatus.IGNORED, asset=Currency.USDT, event_index=2)
        excess = make_payment(4, status=PaymentStatus.EXCESS)
        other = make_payment(5, status=PaymentStatus.IGNORED, to_address=address())
        await add(state, matched, dust, usdt, excess, other)
        every = [other.id, excess.id, usdt.id, dust.id, matched.id]
        assert await ids(client, PAYMENTS, headers) == every
        assert await ids(client, PAYMENTS, headers, status="dust") == [dust.id]
        assert await ids(client, PAYMENTS, headers, asset="USDT") == [usdt.id]
        assert await ids(client, PAYMENTS, headers, address=sender) == [matched.id]
        assert await ids(client, PAYMENTS, headers, address=other.to_address) == [other.id]
        assert await ids(client, PAYMENTS, headers, txHash=excess.tx_hash) == [excess.id]
        assert await ids(client, PAYMENTS, headers, orderId=o.id) == [matched.id]
        window = {
            "createdFrom": (T0 + timedelta(minutes=2)).isoformat(),
            "createdTo": (T0 + timedelta(minutes=4)).isoformat(),
        }
        assert await ids(client, PAYMENTS, headers, **window) == [usdt.id, dust.id]
        problems = f"{PAYMENTS}/problems"
        assert await ids(client, problems, headers) == [other.id, excess.id, usdt.id, dust.id]
        assert await ids(client, problems, headers, kind="ignored") == [other.id, usdt.id]
        assert await ids(client, problems, headers, kind="ignored", asset="TRX") == [other.id]
        r = await client.get(f"{PAYMENTS}/{dust.id}", headers=headers)
        assert r.status_code == 200 and r.json()["data"]["changes"] == []
        r = await client.get(f"{PAYMENTS}/{2**40}", headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "PAYMENT_NOT_FOUND")


class TestPagination:
    async def test_pages_stable_across_inserts_and_ties(
        self, client: httpx.AsyncClient, state: AppState, headers: dict[str, str]
    ) -> None:
        # five orders share one created_at: the id breaks the tie
        orders = [make_order(1) for _ in range(5)] + [make_order(m) for m in (2, 3, 4, 5)]
        await add(state, *orders)
        expected = [o.id for o in sorted(orders, key=lambda o: (o.created_at, o.id), reverse=True)]
        r = await client.get(ORDERS, headers=headers, params={"limit": 3})
        first = r.json()["data"]
        assert [i["orderId"] for i in first["items"]] == expected[:3]
        # newer orders (and one at the tie's time) arrive between two pages
        await add(state, make_order(6), make_order(7), make_order(1))
        rest = await walk(client, ORDERS, headers, limit=3, cursor=first["nextCursor"])
        tie_newcomer = [i for i in rest if i not in expected]
        assert [i for i in rest if i in expected] == expected[3:]  # nothing skipped or repeated
        assert len(tie_newcomer) <= 1  # only one sorting below the cursor can appear
        assert len(await walk(client, ORDERS, headers, limit=2)) == len(orders) + 3

    async def test_payment_pages(
        self, client: httpx.AsyncClient, state: AppState, headers: dict[str, str]
    ) -> None:
        payments = [make_payment(m // 2) for m in range(7)]
        await add(state, *payments)
        expected = sorted((p.created_at, p.id) for p in payments)
        assert await walk(client, PAYMENTS, headers, limit=2) == [i for _, i in expected][::-1]


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


class TestBadInput:
    @pytest.mark.parametrize(
        ("url", "params", "code"),
        [
            (ORDERS, {"cursor": "not a cursor"}, "INVALID_CURSOR"),
            (ORDERS, {"cursor": "%%%"}, "INVALID_CURSOR"),
            (ORDERS, {"cursor": _cursor(["2026-01-01T00:00:00+00:00", 5])}, "INVALID_CURSOR"),
            (ORDERS, {"cursor": _cursor(["2026-01-01T00:00:00", "x"])}, "INVALID_CURSOR"),
            (ORDERS, {"cursor": _cursor({"a": 1})}, "INVALID_CURSOR"),
            (PAYMENTS, {"cursor": _cursor(["2026-01-01T00:00:00+00:00", "7"])}, "INVALID_CURSOR"),
            (PAYMENTS, {"cursor": _cursor(["yesterday", 7])}, "INVALID_CURSOR"),
            (PAYMENTS, {"cursor": "x" * 301}, "VALIDATION_ERROR"),
            (ORDERS, {"createdFrom": "yesterday"}, "VALIDATION_ERROR"),
            (ORDERS, {"createdFrom": "2026-01-01T00:00:00"}, "VALIDATION_ERROR"),  # naive
            (ORDERS, {"createdTo": "0001-01-01T00:00:00+05:00"}, "INVALID_DATE_RANGE"),
            (
                PAYMENTS,
                {"createdFrom": "2026-02-01T00:00:00Z", "createdTo": "2026-01-01T00:00:00Z"},
                "INVALID_DATE_RANGE",
            ),
            (ORDERS, {"limit": 0}, "VALIDATION_ERROR"),
            (ORDERS, {"limit": 101}, "VALIDATION_ERROR"),
            (ORDERS, {"status": "bogus"}, "VALIDATION_ERROR"),
            (ORDERS, {"type": "bogus"}, "VALIDATION_ERROR"),
            (ORDERS, {"userId": "not-a-uuid"}, "VALIDATION_ERROR"),
            (ORDERS, {"txHash": "x" * 101}, "VALIDATION_ERROR"),
            (PAYMENTS, {"asset": "BTC"}, "VALIDATION_ERROR"),
            (f"{PAYMENTS}/problems", {"kind": "matched"}, "VALIDATION_ERROR"),
            (f"{PAYMENTS}/0", {}, "VALIDATION_ERROR"),
            (f"{PAYMENTS}/abc", {}, "VALIDATION_ERROR"),
        ],
    )
    async def test_clear_4xx(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        url: str,
        params: dict[str, Any],
        code: str,
    ) -> None:
        r = await client.get(url, headers=headers, params=params)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == code


class TestAuth:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", ORDERS),
            ("GET", f"{ORDERS}/x"),
            ("GET", PAYMENTS),
            ("GET", f"{PAYMENTS}/problems"),
            ("GET", f"{PAYMENTS}/1"),
            ("POST", f"{PAYMENTS}/1/refund"),
            ("POST", f"{PAYMENTS}/1/match"),
        ],
    )
    async def test_anonymous_refused(
        self, client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        r = await client.request(method, path, json={"reason": "x", "orderId": "y"})
        assert r.status_code == 401

    @pytest.mark.parametrize("action", ["refund", "match"])
    async def test_operator_cannot_move_money(
        self, client: httpx.AsyncClient, headers: dict[str, str], action: str
    ) -> None:
        r = await client.post(
            f"{PAYMENTS}/1/{action}", headers=headers, json={"reason": "x", "orderId": "y"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (403, "ROLE_NOT_ALLOWED")
