"""Concurrent merchant orders of one customer: the customer's row is locked only by the debit,
last before the commit (not for the whole request), so the balance and the client order ids
are kept by the database itself - the conditional debit (never below zero) and the UNIQUE
client order id. Both databases; on PostgreSQL the requests really overlap."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from flash.test_endpoints import Api
from trondevnet.testing import funded_key
from tronrent.models.balance_ledger import BalanceLedgerEntry
from tronrent.models.merchant import MerchantOrder
from tronrent.models.user import User

from .conftest import TRX, Merchant, new_merchant
from .test_api import error, order_body


async def ledger_and_balance(api: Api, m: Merchant) -> tuple[int, int, int]:
    """(balance, sum of the ledger, merchant orders) of the merchant's customer."""
    assert api.state is not None
    async with api.state.session_maker() as s:
        user = await s.get(User, uuid.UUID(m.user_id))
        assert user is not None
        total = await s.scalar(
            select(func.coalesce(func.sum(BalanceLedgerEntry.delta_units), 0)).where(
                BalanceLedgerEntry.user_id == user.id
            )
        )
        orders = await s.scalar(
            select(func.count()).select_from(MerchantOrder).where(MerchantOrder.user_id == user.id)
        )
    return user.trx_balance_sun, int(total or 0), int(orders or 0)


async def test_a_balance_for_five_orders_pays_five(api: Api) -> None:
    m = await new_merchant(api, trx_sun=10 * TRX)  # 2 TRX an order: five
    receiver = funded_key(api.devnet.chain, TRX).address_base58
    assert (await m.call("GET", "/api/v1/balance")).status_code == 200
    answers = await asyncio.gather(
        *(m.call("POST", "/api/v1/orders", order_body(f"many-{i}", receiver)) for i in range(20))
    )
    codes = Counter(r.status_code for r in answers)
    assert codes == {201: 5, 409: 15}, codes
    assert {error(r) for r in answers if r.status_code == 409} == {"INSUFFICIENT_BALANCE"}
    assert await ledger_and_balance(api, m) == (0, 0, 5)


async def test_twins_make_one_order(api: Api) -> None:
    m = await new_merchant(api, trx_sun=20 * TRX)
    receiver = funded_key(api.devnet.chain, TRX).address_base58
    # the key's first use is recorded (a locked row): later requests do not wait for it
    assert (await m.call("GET", "/api/v1/balance")).status_code == 200
    answers = await asyncio.gather(
        *(m.call("POST", "/api/v1/orders", order_body("twin", receiver)) for _ in range(8))
    )
    created: list[dict[str, Any]] = [r.json()["data"] for r in answers if r.status_code == 201]
    others = [error(r) for r in answers if r.status_code != 201]
    # each twin gets the order, or - it was written at the same moment - 409, repeat to get it
    assert set(others) <= {"CLIENT_ORDER_ID_IN_FLIGHT"}, others
    assert len({d["orderId"] for d in created}) == 1
    assert [d["created"] for d in created].count(True) == 1
    again = await m.call("POST", "/api/v1/orders", order_body("twin", receiver))
    assert again.status_code == 201 and again.json()["data"]["orderId"] == created[0]["orderId"]
    assert await ledger_and_balance(api, m) == (18 * TRX, 18 * TRX, 1)
