"""A customer's order is theirs (docs/customer-auth.md): the order token of create-order guards
cancel and confirm, the public order view hides the details, and chatId must be a chat that
started the bot. Real HTTP app, devnet and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, update

from trondevnet.testing import funded_key
from tronrent.bot.service import bot as bot_service
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.kit.time import now_ms
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.models.payment import Payment
from tronrent.models.user import User, UserStatus
from tronrent.order.ids import new_flash_order_id
from tronrent.user.service import TelegramProfile
from tronrent.user.service import user as user_service

from .conftest import TRX, send_trx
from .test_endpoints import Api, api  # noqa: F401  (the app fixture)

CREATE = "/api/energy-flash/create-order"


async def create(api: Api, chat_id: int = 0, recipient: str | None = None) -> dict[str, Any]:  # noqa: F811
    r = await api.http.post(
        CREATE,
        json={"recipientAddress": recipient or api.pool.tron_address, "chatId": chat_id},
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def exact(data: dict[str, Any]) -> int:
    """The amount (sun) of the order created with answer ``data``."""
    return round(data["exampleAmount"] * TRX)


async def stored(database_url: str, order_id: str) -> Order:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as s:
            order = await s.get(Order, order_id)
            assert order is not None
            return order
    finally:
        await engine.dispose()


async def count(database_url: str, model: Any, *where: Any) -> int:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as s:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        await engine.dispose()


class TestOrderToken:
    async def test_returned_once_and_stored_hashed(self, api: Api, database_url: str) -> None:  # noqa: F811
        data = await create(api)
        token = data["orderToken"]
        assert isinstance(token, str) and len(token) == 43
        order = await stored(database_url, data["orderId"])
        assert order.access_token_hash is not None and order.access_token_hash != token
        assert order.access_token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(order.__dict__)
        # no later answer carries it: public, owner and operator views alike
        oid = data["orderId"]
        for headers in ({}, {"X-Order-Token": token}, api.admin):
            for path in (f"/api/energy-flash/order-status/{oid}", f"/api/orders/{oid}"):
                r = await api.http.get(path, headers=headers)
                assert r.status_code == 200 and token not in r.text
                assert order.access_token_hash not in r.text
        # every order gets its own
        assert (await create(api))["orderToken"] != token


class TestCancel:
    async def test_without_or_with_a_wrong_token_refused_order_unchanged(
        self,
        api: Api,  # noqa: F811
        database_url: str,
    ) -> None:
        data = await create(api)
        oid = data["orderId"]
        url = f"/api/energy-flash/cancel-order/{oid}"
        other = (await create(api))["orderToken"]  # a valid token - of another order
        cases = [
            ({}, 401, "ORDER_TOKEN_REQUIRED"),
            ({"X-Order-Token": ""}, 401, "ORDER_TOKEN_REQUIRED"),
            ({"X-Order-Token": secrets.token_urlsafe(32)}, 403, "ORDER_TOKEN_INVALID"),
            ({"X-Order-Token": other}, 403, "ORDER_TOKEN_INVALID"),
            ({"X-Order-Token": data["orderToken"][:-1]}, 403, "ORDER_TOKEN_INVALID"),
        ]
        for headers, status, code in cases:
            r = await api.http.post(url, headers=headers)
            assert r.status_code == status, (headers, r.text)
            body = r.json()
            assert body["success"] is False and body["error"]["code"] == code
            assert "X-Order-Token" in body["error"]["message"]
        assert (await stored(database_url, oid)).status is OrderStatus.PENDING
        r = await api.http.post(url, headers={"X-Order-Token": "x" * 300})
        assert r.status_code == 422 and r.json()["success"] is False
        r = await api.http.post(url, headers={"X-Order-Token": data["orderToken"]})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["status"] == "cancelled" and r.json()["data"]["access"] == "owner"
        assert (await stored(database_url, oid)).status is OrderStatus.CANCELLED

    async def test_unknown_order_is_404_before_the_token(self, api: Api) -> None:  # noqa: F811
        r = await api.http.post(
            "/api/energy-flash/cancel-order/FLASH_1704067200000_abc123def",
            headers={"X-Order-Token": "whatever"},
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "ORDER_NOT_FOUND"

    async def test_operator_may_cancel_any_order(self, api: Api, database_url: str) -> None:  # noqa: F811
        oid = (await create(api))["orderId"]
        r = await api.http.post(
            f"/api/energy-flash/cancel-order/{oid}", headers={"Authorization": "Bearer forged"}
        )
        assert r.status_code == 401  # a bearer token that is sent must be valid
        r = await api.http.post(f"/api/energy-flash/cancel-order/{oid}", headers=api.admin)
        assert r.status_code == 200 and r.json()["data"]["access"] == "operator"
        assert (await stored(database_url, oid)).status is OrderStatus.CANCELLED

    async def test_tokenless_order_only_by_an_operator(self, api: Api, database_url: str) -> None:  # noqa: F811
        """An order made in the bot has no token: over HTTP no token opens it."""
        oid = new_flash_order_id(now_ms())
        engine = create_engine(database_url)
        try:
            async with create_session_maker(engine)() as s, s.begin():
                s.add(
                    Order(
                        id=oid,
                        order_number=oid,
                        order_type=OrderType.ENERGY_FLASH,
                        status=OrderStatus.PENDING,
                        target_address=api.pool.tron_address,
                        chat_id=4242,
                    )
                )
        finally:
            await engine.dispose()
        url = f"/api/energy-flash/cancel-order/{oid}"
        for headers in ({}, {"X-Order-Token": secrets.token_urlsafe(32)}):
            r = await api.http.post(url, headers=headers)
            assert r.status_code == 403 and r.json()["error"]["code"] == "ORDER_TOKEN_INVALID"
            assert "Telegram bot" in r.json()["error"]["message"]
        assert (await stored(database_url, oid)).status is OrderStatus.PENDING
        r = await api.http.post(url, headers=api.admin)
        assert r.status_code == 200 and r.json()["data"]["status"] == "cancelled"


class TestConfirm:
    async def test_needs_the_token(self, api: Api, database_url: str) -> None:  # noqa: F811
        customer = funded_key(api.devnet.chain, 100 * TRX)
        data = await create(api, recipient=customer.address_base58)
        oid, owner = data["orderId"], {"X-Order-Token": data["orderToken"]}
        # a transfer the scanner ignores (not to the flash address): only confirm could act
        elsewhere = funded_key(api.devnet.chain, TRX).address_base58
        foreign = send_trx(api.devnet, customer, elsewhere, exact(data))
        api.devnet.node.produce()
        body = {"orderId": oid, "txHash": foreign}
        for headers, status in (({}, 401), ({"X-Order-Token": "nope"}, 403)):
            r = await api.http.post("/api/energy-flash/confirm-payment", json=body, headers=headers)
            assert r.status_code == status, r.text
            assert r.json()["error"]["code"].startswith("ORDER_TOKEN_")
        # the owner passes the guard and reaches the on-chain check
        r = await api.http.post("/api/energy-flash/confirm-payment", json=body, headers=owner)
        assert r.status_code == 422 and r.json()["error"]["code"] == "PAYMENT_NOT_ACCEPTABLE"
        assert await count(database_url, Payment, Payment.tx_hash == foreign) == 0
        assert (await stored(database_url, oid)).status is OrderStatus.PENDING
        # the exact amount (its tail names the order): the scanner may see it first - either
        # way confirming it is accepted
        txid = send_trx(api.devnet, customer, api.pool.tron_address, exact(data))
        api.devnet.node.produce()
        r = await api.http.post(
            "/api/energy-flash/confirm-payment",
            json={"orderId": oid, "txHash": txid},
            headers=owner,
        )
        assert r.status_code == 200 and r.json()["data"]["orderId"] == oid, r.text
        await api.wait_status(oid, "active")

    async def test_operator_may_confirm(self, api: Api) -> None:  # noqa: F811
        customer = funded_key(api.devnet.chain, 100 * TRX)
        data = await create(api, recipient=customer.address_base58)
        oid = data["orderId"]
        txid = send_trx(api.devnet, customer, api.pool.tron_address, exact(data))
        api.devnet.node.produce()
        r = await api.http.post(
            "/api/energy-flash/confirm-payment",
            json={"orderId": oid, "txHash": txid},
            headers=api.admin,
        )
        assert r.status_code == 200, r.text


class TestViews:
    async def test_public_view_hides_details(self, api: Api) -> None:  # noqa: F811
        recipient = funded_key(api.devnet.chain, TRX).address_base58
        data = await create(api, recipient=recipient)
        oid, token = data["orderId"], data["orderToken"]
        r = await api.http.get(f"/api/energy-flash/order-status/{oid}")
        public = r.json()["data"]
        assert r.status_code == 200 and public["access"] == "public"
        assert public["status"] == "pending"
        # what is needed to pay is public
        assert public["paymentAddress"] == data["paymentAddress"]
        assert public["expectedAmount"] == data["exampleAmount"]
        assert public["expiresAt"] == data["expiresAt"]
        assert recipient not in r.text
        assert public["recipientAddress"] is None and public["chatId"] is None
        assert public["statusReason"] is None and public["paymentTxHash"] is None
        for headers, access in (({"X-Order-Token": token}, "owner"), (api.admin, "operator")):
            r = await api.http.get(f"/api/orders/{oid}", headers=headers)
            full = r.json()["data"]
            assert full["access"] == access and full["recipientAddress"] == recipient
        # a wrong token is not an error on a read: the public view
        r = await api.http.get(f"/api/orders/{oid}", headers={"X-Order-Token": "nope"})
        assert r.status_code == 200 and r.json()["data"]["access"] == "public"


async def start_chat(database_url: str, chat_id: int, *, bot_active: bool = True) -> uuid.UUID:
    """What the bot records when ``chat_id`` sends /start (see telegram.middlewares)."""
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as s, s.begin():
            bot = await bot_service.create(
                s,
                box=SecretBox([generate_key()]),
                token=f"{chat_id}:{secrets.token_urlsafe(30)}",
                name="Shop",
                username=f"shop_{chat_id}_bot",
            )
            reg = await user_service.register_telegram_user(s, TelegramProfile(chat_id))
            await bot_service.touch_bot_user(s, bot_id=bot.id, user_id=reg.user.id, chat_id=chat_id)
            return bot.id
    finally:
        await engine.dispose()


class TestChatId:
    async def test_chat_that_never_started_the_bot_refused(
        self,
        api: Api,  # noqa: F811
        database_url: str,
    ) -> None:
        await start_chat(database_url, 555_001)
        before = await count(database_url, Order)
        r = await api.http.post(
            CREATE, json={"recipientAddress": api.pool.tron_address, "chatId": 777_002}
        )
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "CHAT_NOT_STARTED"
        assert "/start" in error["message"] and "@shop_555001_bot" in error["message"]
        assert await count(database_url, Order) == before
        assert (
            await count(database_url, NotificationOutbox, NotificationOutbox.chat_id == 777_002)
            == 0
        )

    async def test_started_chat_accepted_and_told_by_its_bot(
        self,
        api: Api,  # noqa: F811
        database_url: str,
    ) -> None:
        bot_id = await start_chat(database_url, 555_003)
        data = await create(api, chat_id=555_003)
        order = await stored(database_url, data["orderId"])
        assert order.chat_id == 555_003 and order.bot_id == bot_id
        assert order.user_id is None  # the HTTP caller owns it through the token
        assert (
            await count(
                database_url,
                NotificationOutbox,
                NotificationOutbox.order_id == order.id,
                NotificationOutbox.chat_id == 555_003,
            )
            == 1
        )

    async def test_chat_of_a_blocked_user_refused(
        self,
        api: Api,  # noqa: F811
        database_url: str,
    ) -> None:
        await start_chat(database_url, 555_005)
        engine = create_engine(database_url)
        try:
            async with create_session_maker(engine)() as s, s.begin():
                await s.execute(
                    update(User).where(User.telegram_id == 555_005).values(status=UserStatus.BANNED)
                )
        finally:
            await engine.dispose()
        before = await count(database_url, Order)
        r = await api.http.post(
            CREATE, json={"recipientAddress": api.pool.tron_address, "chatId": 555_005}
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "USER_BLOCKED", r.text
        assert await count(database_url, Order) == before

    async def test_chat_zero_means_no_telegram(self, api: Api, database_url: str) -> None:  # noqa: F811
        data = await create(api, chat_id=0)
        order = await stored(database_url, data["orderId"])
        assert order.chat_id is None and order.bot_id is None

    @pytest.mark.parametrize("chat_id", [-1001234567890, 1, 2**52])
    async def test_any_unknown_chat_refused(self, api: Api, chat_id: int) -> None:  # noqa: F811
        r = await api.http.post(
            CREATE, json={"recipientAddress": api.pool.tron_address, "chatId": chat_id}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "CHAT_NOT_STARTED"

    async def test_chat_of_an_agents_bot_gets_the_agents_price(
        self,
        api: Api,  # noqa: F811
        database_url: str,
    ) -> None:
        """Over HTTP too, an order told by an agent's own bot is the agent's, at the agent's
        flash price (docs/agents.md): the answer quotes it."""
        from agent.helpers import make_agent, new_admin, new_user
        from tronrent.models.bot import Bot, BotStatus

        bot_id = await start_chat(database_url, 555_006)
        engine = create_engine(database_url)
        try:
            async with create_session_maker(engine)() as s, s.begin():
                agent = await make_agent(s, await new_admin(s), await new_user(s))
                await s.execute(
                    update(Bot)
                    .where(Bot.id == bot_id)
                    .values(
                        owner_agent_id=agent.id,
                        agent_markup_bps=2000,
                        max_markup_bps=2500,
                        approved_at=func.now(),
                        status=BotStatus.ACTIVE,
                    )
                )
        finally:
            await engine.dispose()
        data = await create(api, chat_id=555_006)
        assert data["priceConfig"]["single_price"] == 1.8  # 1.5 TRX + 20 %
        tail = round(data["paymentTail"] * TRX)
        assert exact(data) == 1_800_000 + tail
        order = await stored(database_url, data["orderId"])
        assert (order.bot_id, order.agent_id) == (bot_id, agent.id)
        assert order.expected_amount_units == 1_800_000 + tail
        # a chat of the operator's bot: the operator's price
        await start_chat(database_url, 555_007)
        plain = await create(api, chat_id=555_007)
        assert plain["priceConfig"]["single_price"] == 1.5
