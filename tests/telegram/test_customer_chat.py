"""create-order's chatId over HTTP (docs/customer-auth.md): only a chat that started the bot is
messaged. The real API app, the real aiogram bot against the emulator, the real flash engine and
outbox sender (the fixtures of test_full_purchase), on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from flash.conftest import (  # noqa: F401  (fixtures of the flash tests)
    box,
    box_key,
    devnet,
    flash,
    gateway,
)
from trondevnet.testing import funded_key
from tronrent.api.app import create_app
from tronrent.config import Settings
from tronrent.flash.api_deps import RUNTIME_COMPONENT
from tronrent.flash.routers import FLASH_ROUTERS
from tronrent.kit.crypto import generate_key
from tronrent.models import NotificationOutbox, Order

from .test_full_purchase import TRX, Shop, shop  # noqa: F401

STARTED, STRANGER = 5_005, 6_006


async def test_only_a_started_chat_is_messaged(
    shop: Shop,  # noqa: F811
    engine: AsyncEngine,
    database_url: str,
    tmp_path: object,
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        database_url=database_url,
        secret_keys=[SecretStr(generate_key())],
        jwt_secret=SecretStr("x" * 40),
        rate_limit_per_minute=0,
    )
    app = create_app(settings, engine=engine, routers=FLASH_ROUTERS)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    recipient = funded_key(shop.f.devnet.chain, TRX).address_base58
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        app.state.tronrent.components[RUNTIME_COMPONENT] = shop.f.engine.rt
        # the customer opens the bot: /start is recorded for the chat
        await shop.h.say(shop.token, "/start", user_id=STARTED)
        await shop.h.manager.drain()
        started_before = len(shop.chat(STARTED))

        r = await http.post(
            "/api/energy-flash/create-order",
            json={"recipientAddress": recipient, "chatId": STRANGER},
        )
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "CHAT_NOT_STARTED" and "/start" in error["message"]
        assert "@flash_shop_bot" in error["message"]

        r = await http.post(
            "/api/energy-flash/create-order",
            json={"recipientAddress": recipient, "chatId": STARTED},
        )
        assert r.status_code == 200, r.text
        order_id = r.json()["data"]["orderId"]
        # the started chat is told by the bot it started (the sender works in queue order, so
        # anything queued for the refused chat would have gone out before this)
        [notice] = await shop.notifications(STARTED, started_before, 1)
        assert order_id in notice.body
    assert shop.chat(STRANGER) == []
    async with shop.f.session_maker() as s:
        assert (
            await s.scalar(
                select(func.count())
                .select_from(NotificationOutbox)
                .where(NotificationOutbox.chat_id == STRANGER)
            )
            == 0
        )
        assert (
            await s.scalar(select(func.count()).select_from(Order).where(Order.chat_id == STRANGER))
            == 0
        )
