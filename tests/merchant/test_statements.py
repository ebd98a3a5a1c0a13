"""What a merchant order paid from the balance costs the database: on PostgreSQL its every
row - the order, its merchant row, its events' outbox rows and callbacks, the ledger entry and
the customer's balance - is written by ONE statement (`kit.db.along_ctes`), after the key and
the customer are read; on SQLite (no writing CTEs) one statement per table, in the same
transaction. Either way all of it or nothing: a refused debit writes none of it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, func, select

from flash.test_endpoints import Api
from trondevnet.testing import funded_key
from tronrent.models.merchant import MerchantCallback, MerchantOrder
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus

from .conftest import TRX, new_merchant
from .test_api import error, order_body

TABLES = (
    "INSERT INTO orders ",
    "INSERT INTO merchant_orders ",
    "INSERT INTO notification_outbox ",
    "INSERT INTO merchant_callbacks ",
    "INSERT INTO balance_ledger ",
    "UPDATE users ",
)


async def _rows(api: Api, order_id: str) -> dict[str, int]:
    assert api.state is not None
    async with api.state.session_maker() as s:
        counts = {}
        for name, model, column in (
            ("orders", Order, Order.id),
            ("merchant_orders", MerchantOrder, MerchantOrder.order_id),
            ("outbox", NotificationOutbox, NotificationOutbox.order_id),
            ("callbacks", MerchantCallback, MerchantCallback.order_id),
        ):
            n = await s.scalar(select(func.count()).select_from(model).where(column == order_id))
            counts[name] = int(n or 0)
        return counts


async def test_one_statement_writes_the_order_on_postgresql(api: Api, db_backend: str) -> None:
    assert api.state is not None
    m = await new_merchant(api, trx_sun=10 * TRX, callbackUrl="https://shop.example/cb")
    receiver = funded_key(api.devnet.chain, TRX).address_base58
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = api.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        r = await m.call("POST", "/api/v1/orders", order_body("one", receiver))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert r.status_code == 201, r.text
    order_id = r.json()["data"]["orderId"]
    writes = [s for s in seen if any(t in s for t in TABLES)]
    if db_backend == "postgres":
        assert len(writes) == 1, writes
        assert all(t in writes[0] for t in TABLES), writes[0]
    else:
        assert sorted(t for s in writes for t in TABLES if t in s) == sorted(TABLES)
    # the order as the ORM would have written it, with its rows, paid
    assert await _rows(api, order_id) == {
        "orders": 1,
        "merchant_orders": 1,
        "outbox": 2,  # package_order_created, payment_received
        "callbacks": 1,  # order.paid
    }
    async with api.state.session_maker() as s:
        order = await s.get(Order, order_id)
        assert order is not None and order.status in (
            OrderStatus.PAID,
            OrderStatus.DELEGATING,
            OrderStatus.ACTIVE,
        )
        assert order.created_at is not None and order.quantity == 1
        assert order.user_id == uuid.UUID(m.user_id)


async def test_a_refused_debit_writes_nothing(api: Api) -> None:
    m = await new_merchant(api, trx_sun=TRX, callbackUrl="https://shop.example/cb")  # < 2 TRX
    receiver = funded_key(api.devnet.chain, TRX).address_base58
    r = await m.call("POST", "/api/v1/orders", order_body("short", receiver))
    assert r.status_code == 409 and error(r) == "INSUFFICIENT_BALANCE"
    assert api.state is not None
    async with api.state.session_maker() as s:
        orders = await s.scalar(
            select(func.count())
            .select_from(MerchantOrder)
            .where(MerchantOrder.user_id == uuid.UUID(m.user_id))
        )
        outbox = await s.scalar(
            select(func.count())
            .select_from(NotificationOutbox)
            .where(NotificationOutbox.user_id == uuid.UUID(m.user_id))
        )
    assert (orders, outbox) == (0, 0)
    # the refused request left no order behind its client order id: asked again, refused again
    again = await m.call("POST", "/api/v1/orders", order_body("short", receiver))
    assert error(again) == "INSUFFICIENT_BALANCE"
