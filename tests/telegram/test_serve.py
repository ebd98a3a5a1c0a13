"""The Telegram side of ``tronrent serve``: bots seeded from TELEGRAM_BOT_TOKEN, run on the flash
engine's runtime and gateway (not second instances), the webhook route, operator alerts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from flash.conftest import BLOCK_MS, add_pool, devnet, gateway  # noqa: F401
from tgemulator import TelegramEmulator
from trondevnet.server import DevnetServer
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.api.app import create_app
from tronrent.api.state import AppState
from tronrent.config import Settings
from tronrent.entrypoints.telegram import TELEGRAM_COMPONENT, telegram_lifespan, telegram_routers
from tronrent.flash.api_deps import CHAIN_COMPONENT, RUNTIME_COMPONENT
from tronrent.flash.lifespan import flash_lifespan
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.models import Bot
from tronrent.notification.events import NotificationEvent
from tronrent.notification.service import enqueue_notification
from tronrent.telegram.callbacks import MenuCb
from tronrent.telegram.manager import BotManager

ADMIN_CHAT = -100_777


@dataclass
class Serve:
    app: FastAPI
    http: httpx.AsyncClient
    emulator: TelegramEmulator
    token: str
    pool_address: str

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.tronrent
        return state

    @property
    def manager(self) -> BotManager:
        manager: BotManager = self.state.components[TELEGRAM_COMPONENT]
        return manager


@pytest.fixture
async def serve(
    devnet: DevnetServer,  # noqa: F811
    gateway: TronGateway,  # noqa: F811
    emulator: TelegramEmulator,
    database_url: str,
    tmp_path: Any,
) -> AsyncIterator[Serve]:
    key = generate_key()
    bot = emulator.add_bot(username="seeded_bot")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        database_url=database_url,
        secret_keys=[SecretStr(key)],
        jwt_secret=SecretStr("x" * 40),
        rate_limit_per_minute=0,
        tron_node_urls=[devnet.url],
        block_interval_ms=BLOCK_MS,
        telegram_bot_token=SecretStr(bot.token),
        telegram_api_url=emulator.url,
        telegram_admin_chat_id=ADMIN_CHAT,
    )
    engine = create_engine(database_url)
    _, pool = await add_pool(create_session_maker(engine), devnet, gateway, SecretBox([key]))
    app = create_app(
        settings,
        engine=engine,
        routers=telegram_routers(),
        lifespan_hooks=[flash_lifespan, telegram_lifespan],
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        yield Serve(app, http, emulator, bot.token, pool.tron_address)
    await engine.dispose()


class TestServe:
    async def test_seeded_bot_runs_on_the_engine_runtime_and_gateway(self, serve: Serve) -> None:
        state, manager = serve.state, serve.manager
        async with state.session_maker() as s:
            [row] = (await s.execute(select(Bot))).scalars().all()
        assert row.username == "seeded_bot" and row.token_encrypted != serve.token
        assert manager.bot_for(row.id) is not None
        # the bot reuses what the flash hook built
        assert manager.flash.runtime is state.components[RUNTIME_COMPONENT]  # type: ignore[attr-defined]
        chain = manager.dispatcher["chain"]
        assert chain.chain is state.components[CHAIN_COMPONENT]
        # polling: a user talks to the seeded bot; flash rental shows the pool's address
        serve.emulator.user_message(serve.token, "/menu", user_id=42)
        [menu] = await serve.emulator.wait_messages(serve.token, 42, 1)
        serve.emulator.press_button(
            serve.token, user_id=42, message_id=menu.message_id, data=MenuCb(action="flash").pack()
        )
        messages = await serve.emulator.wait_messages(serve.token, 42, 3)
        assert serve.pool_address in messages[-1].body

    async def test_operator_alert_reaches_the_admin_chat(self, serve: Serve) -> None:
        async with serve.state.session_maker() as s, s.begin():
            await enqueue_notification(
                s,
                event=NotificationEvent.POOL_LOW,
                chat_id=None,
                bot_id=None,
                payload={"pool_name": "main", "available_energy": 10, "threshold": 500_000},
                dedupe_key="pool-low-test",
            )
        [alert] = await serve.emulator.wait_messages(serve.token, ADMIN_CHAT, 1, seconds=10)
        assert "Energy pool low" in alert.body or "能量池余量不足" in alert.body

    async def test_webhook_route(self, serve: Serve) -> None:
        r = await serve.http.post(f"/webhook/telegram/{uuid.uuid4()}", json={"update_id": 1})
        assert r.status_code == 404 and r.json()["success"] is False
        async with serve.state.session_maker() as s:
            row_id = (await s.execute(select(Bot.id))).scalar_one()
        # a polling bot takes no webhook deliveries
        r = await serve.http.post(
            f"/webhook/telegram/{row_id}",
            json={"update_id": 1},
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        )
        assert r.status_code == 404
