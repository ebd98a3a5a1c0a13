"""Bots through the admin API: add, edit, disable, remove - the running bots follow without a
restart (real aiogram on the Bot API emulator), tokens encrypted and never returned, every
change recorded with who and why."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tgemulator import TelegramEmulator
from tronrent.api.app import create_app
from tronrent.api.state import AppState
from tronrent.config import Settings
from tronrent.entrypoints.telegram import TELEGRAM_COMPONENT, telegram_lifespan, telegram_routers
from tronrent.kit.audit import Actor
from tronrent.models import Bot, BotChange, PriceConfig
from tronrent.pricing.rules import PriceConfigService, price_config_service
from tronrent.pricing.schemas import PriceConfigSpec
from tronrent.telegram.manager import BotManager

REASON = "new shop bot"
CONFIGS = "/api/admin/price-configs"
CLI = Actor("cli:test")


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emu:
        yield emu


@pytest.fixture
async def app(
    make_settings: Callable[..., Settings], database_url: str, emulator: TelegramEmulator
) -> AsyncIterator[FastAPI]:
    """The API with the bots running (telegram lifespan, no flash engine: the bots answer, and
    say "unavailable" for orders)."""
    settings = make_settings(database_url=database_url, telegram_api_url=emulator.url)
    application = create_app(
        settings, routers=telegram_routers(), lifespan_hooks=[telegram_lifespan]
    )
    async with application.router.lifespan_context(application):
        manager: BotManager = application.state.tronrent.components[TELEGRAM_COMPONENT]
        manager.polling_timeout = 1
        yield application


def manager_of(state: AppState) -> BotManager:
    manager: BotManager = state.components[TELEGRAM_COMPONENT]
    return manager


@pytest.fixture
async def admin_headers(make_admin: Any, login: Any) -> dict[str, str]:
    username, _ = await make_admin("admin")
    return {"Authorization": f"Bearer {await login(username)}"}


async def add(
    client: httpx.AsyncClient, headers: dict[str, str], emulator: TelegramEmulator, **extra: Any
) -> tuple[str, str]:
    """Add an emulator bot through the API; (bot id, token)."""
    state = emulator.add_bot(username=f"shop_{uuid.uuid4().hex[:8]}_bot")
    body = {"token": state.token, "name": "Shop", "username": state.username, "reason": REASON}
    response = await client.post("/api/admin/bots", json={**body, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    assert state.token not in response.text
    return response.json()["data"]["botId"], state.token


async def answers(emulator: TelegramEmulator, token: str, user_id: int) -> bool:
    """Does the bot answer /start (within the emulator's wait)?"""
    before = len(emulator.bot(token).messages(user_id))
    emulator.user_message(token, "/start", user_id=user_id)
    try:
        await emulator.wait_messages(token, user_id, before + 1, seconds=3)
    except TimeoutError:
        return False
    return True


class TestAddBot:
    async def test_added_bot_answers_at_once_token_encrypted(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        emulator: TelegramEmulator,
        state: AppState,
    ) -> None:
        bot_id, token = await add(
            client, admin_headers, emulator, welcomeMessage="Hello!", description="Energy shop"
        )
        assert manager_of(state).bot_for(uuid.UUID(bot_id)) is not None
        assert await answers(emulator, token, user_id=7)
        async with state.session_maker() as s:
            row = await s.get(Bot, uuid.UUID(bot_id))
            assert row is not None and token not in row.token_encrypted
            [change] = (await s.execute(select(BotChange))).scalars().all()
        assert change.action == "add" and change.reason == REASON
        assert change.actor.startswith("admin:") and change.after["token"] == "(changed)"
        assert token not in str(change.after)
        listed = await client.get("/api/admin/bots", headers=admin_headers)
        assert token not in listed.text
        [out] = listed.json()["data"]
        assert out["mode"] == "polling" and out["welcomeMessage"] == "Hello!"
        assert out["description"] == "Energy shop"

    async def test_bad_token_duplicate_and_missing_reason(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], emulator: TelegramEmulator
    ) -> None:
        body = {
            "token": "123456789:bad token",
            "name": "X",
            "username": "x_shop_bot",
            "reason": "r",
        }
        bad = await client.post("/api/admin/bots", json=body, headers=admin_headers)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_BOT_TOKEN"
        assert "123456789:bad token" not in bad.text
        _, token = await add(client, admin_headers, emulator)
        again = {"token": token, "name": "Y", "username": "other_shop_bot", "reason": "r"}
        dup = await client.post("/api/admin/bots", json=again, headers=admin_headers)
        assert dup.status_code == 409 and dup.json()["error"]["code"] == "BOT_ALREADY_EXISTS"
        blank = {**again, "reason": "  "}
        no_reason = await client.post("/api/admin/bots", json=blank, headers=admin_headers)
        assert no_reason.status_code == 422

    async def test_operators_read_only_admins_write(
        self, client: httpx.AsyncClient, make_admin: Any, login: Any
    ) -> None:
        username, _ = await make_admin("operator")
        headers = {"Authorization": f"Bearer {await login(username)}"}
        assert (await client.get("/api/admin/bots", headers=headers)).status_code == 200
        body = {"token": "1:" + "a" * 30, "name": "X", "username": "x_shop_bot", "reason": "r"}
        assert (await client.post("/api/admin/bots", json=body, headers=headers)).status_code == 403
        assert (await client.get("/api/admin/bots")).status_code == 401


class TestEditBot:
    async def test_disable_and_enable_without_restart(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        emulator: TelegramEmulator,
        state: AppState,
    ) -> None:
        bot_id, token = await add(client, admin_headers, emulator)
        url = f"/api/admin/bots/{bot_id}"
        off = await client.patch(
            url, json={"status": "inactive", "reason": "abuse"}, headers=admin_headers
        )
        assert off.status_code == 200 and off.json()["data"]["status"] == "inactive"
        assert manager_of(state).bot_for(uuid.UUID(bot_id)) is None
        assert not await answers(emulator, token, user_id=8)
        on = await client.patch(
            url, json={"status": "active", "reason": "ok"}, headers=admin_headers
        )
        assert on.status_code == 200
        assert manager_of(state).bot_for(uuid.UUID(bot_id)) is not None
        assert await answers(emulator, token, user_id=9)
        changes = (await client.get(f"{url}/changes", headers=admin_headers)).json()["data"]
        assert [(c["action"], c["after"].get("status"), c["reason"]) for c in changes] == [
            ("edit", "active", "ok"),
            ("edit", "inactive", "abuse"),
            ("add", None, REASON),
        ]

    async def test_webhook_then_polling_and_new_token(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        emulator: TelegramEmulator,
        state: AppState,
    ) -> None:
        bot_id, token = await add(client, admin_headers, emulator)
        url = f"/api/admin/bots/{bot_id}"
        hook = "https://shop.example/webhook/telegram"
        body = {"webhookUrl": hook, "webhookSecret": "s3cret_value", "reason": "go webhook"}
        edited = await client.patch(url, json=body, headers=admin_headers)
        assert edited.status_code == 200, edited.text
        data = edited.json()["data"]
        assert data["mode"] == "webhook" and data["hasWebhookSecret"] is True
        assert "s3cret_value" not in edited.text
        assert emulator.bot(token).webhook_url == f"{hook}/{bot_id}"
        assert emulator.bot(token).webhook_secret == "s3cret_value"
        # the manager takes webhook deliveries for it with that secret
        manager = manager_of(state)
        assert (await manager.feed_webhook(uuid.UUID(bot_id), "wrong", b"{}"))[0] == 401
        back = await client.patch(
            url, json={"webhookUrl": None, "reason": "poll"}, headers=admin_headers
        )
        assert back.json()["data"]["mode"] == "polling"
        assert emulator.bot(token).webhook_url is None
        assert await answers(emulator, token, user_id=10)
        # a new token (say, revoked at @BotFather): the bot restarts with it
        fresh = emulator.add_bot(username="fresh_token_bot")
        moved = await client.patch(
            url, json={"token": fresh.token, "reason": "token leaked"}, headers=admin_headers
        )
        assert moved.status_code == 200 and fresh.token not in moved.text
        running = manager.bot_for(uuid.UUID(bot_id))
        assert running is not None and running.token == fresh.token
        assert await answers(emulator, fresh.token, user_id=11)
        async with state.session_maker() as s:
            history = (await s.execute(select(BotChange.before, BotChange.after))).all()
        assert fresh.token not in str(history) and "s3cret_value" not in str(history)

    async def test_refused_edits(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], emulator: TelegramEmulator
    ) -> None:
        bot_id, _ = await add(client, admin_headers, emulator)
        url = f"/api/admin/bots/{bot_id}"
        for body in (
            {"name": None, "reason": "r"},
            {"rateLimit": 0, "reason": "r"},
            {"webhookUrl": "ftp://x", "reason": "r"},
            {"token": "not a token at all", "reason": "r"},
            {"unknown": 1, "reason": "r"},
            {"name": "x"},
        ):
            response = await client.patch(url, json=body, headers=admin_headers)
            assert response.status_code == 422, (body, response.text)
        missing = await client.patch(
            f"/api/admin/bots/{uuid.uuid4()}",
            json={"name": "x", "reason": "r"},
            headers=admin_headers,
        )
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "BOT_NOT_FOUND"


class TestRemoveBot:
    async def test_removed_bot_stops_and_keeps_history(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        emulator: TelegramEmulator,
        state: AppState,
    ) -> None:
        bot_id, token = await add(client, admin_headers, emulator)
        assert await answers(emulator, token, user_id=12)  # a bot_users row exists now
        url = f"/api/admin/bots/{bot_id}"
        assert (await client.delete(url, headers=admin_headers)).status_code == 422  # no reason
        gone = await client.delete(url, params={"reason": "shop closed"}, headers=admin_headers)
        assert gone.status_code == 200, gone.text
        assert manager_of(state).bot_for(uuid.UUID(bot_id)) is None
        assert (await client.get(url, headers=admin_headers)).status_code == 404
        changes = (await client.get(f"{url}/changes", headers=admin_headers)).json()["data"]
        assert [c["action"] for c in changes] == ["remove", "add"]
        assert not await answers(emulator, token, user_id=12)


async def bot_rules(state: AppState, bot_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A live and a deleted price rule of the bot, made through the service (history rows)."""
    async with state.session_maker() as s:
        live = await price_config_service.create(
            s,
            PriceConfigSpec(config_name="Shop price", bot_id=uuid.UUID(bot_id), markup_bps=500),
            actor=CLI,
            reason="shop markup",
        )
        old = await price_config_service.create(
            s,
            PriceConfigSpec(config_name="Old price", bot_id=uuid.UUID(bot_id), markup_bps=100),
            actor=CLI,
            reason="launch",
        )
        await price_config_service.delete(s, old.id, actor=CLI, reason="too cheap")
        await s.commit()
        return live.id, old.id


class TestRemoveBotWithPriceRules:
    async def test_rules_deleted_history_kept(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        emulator: TelegramEmulator,
        state: AppState,
    ) -> None:
        bot_id, _ = await add(client, admin_headers, emulator)
        live, old = await bot_rules(state, bot_id)
        url = f"/api/admin/bots/{bot_id}"
        gone = await client.delete(url, params={"reason": "shop closed"}, headers=admin_headers)
        assert gone.status_code == 200, gone.text
        assert (await client.get(url, headers=admin_headers)).status_code == 404
        [change, _] = (await client.get(f"{url}/changes", headers=admin_headers)).json()["data"]
        assert change["action"] == "remove"
        async with state.session_maker() as s:
            assert await s.get(Bot, uuid.UUID(bot_id)) is None
            rules = {c.id: c for c in (await s.execute(select(PriceConfig))).scalars()}
            assert all(c.bot_id is None for c in rules.values())
            for rule_id in (live, old):  # kept, applying to nothing
                assert not rules[rule_id].is_active and rules[rule_id].deleted_at is not None
        listed = await client.get(CONFIGS, params={"botId": bot_id}, headers=admin_headers)
        assert listed.status_code == 200 and listed.json()["data"] == []
        assert (await client.get(f"{CONFIGS}/{live}", headers=admin_headers)).status_code == 404

        history = await client.get(f"{CONFIGS}/{live}/history", headers=admin_headers)
        assert history.status_code == 200, history.text
        rows = history.json()["data"]
        assert [h["changeType"] for h in rows] == ["delete", "create"]
        assert rows[0]["oldValue"]["bot_id"] == bot_id and rows[0]["newValue"] is None
        assert rows[0]["changedBy"] is not None  # the admin who removed the bot
        assert "shop closed" in rows[0]["changeReason"]
        assert rows[1]["newValue"]["bot_id"] == bot_id and "shop markup" in rows[1]["changeReason"]
        deleted = await client.get(f"{CONFIGS}/{old}/history", headers=admin_headers)
        assert [h["changeType"] for h in deleted.json()["data"]] == ["delete", "create"]
        assert "too cheap" in deleted.json()["data"][0]["changeReason"]

    async def test_a_reference_made_meanwhile_is_a_conflict(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        emulator: TelegramEmulator,
        state: AppState,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A rule (with history) made for the bot while it is removed: 409, nothing removed."""
        bot_id, _ = await add(client, admin_headers, emulator)
        live, _ = await bot_rules(state, bot_id)
        detach = PriceConfigService.detach_bot

        async def racing(self: PriceConfigService, session: Any, bot: Bot, **kw: Any) -> Any:
            deleted = await detach(self, session, bot, **kw)
            spec = PriceConfigSpec(config_name="Late", bot_id=bot.id)
            await PriceConfigService.create(self, session, spec, actor=CLI, reason="late")
            return deleted

        monkeypatch.setattr(PriceConfigService, "detach_bot", racing)
        url = f"/api/admin/bots/{bot_id}"
        refused = await client.delete(url, params={"reason": "closed"}, headers=admin_headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "BOT_IN_USE"
        assert (await client.get(url, headers=admin_headers)).status_code == 200
        rule = await client.get(f"{CONFIGS}/{live}", headers=admin_headers)
        assert rule.status_code == 200 and rule.json()["data"]["botId"] == bot_id


class TestAgentBots:
    async def test_register_approve_bounds(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        emulator: TelegramEmulator,
        state: AppState,
    ) -> None:
        from agent.helpers import make_agent, new_admin, new_user

        async with state.session_maker() as s, s.begin():
            agent = await make_agent(s, await new_admin(s), await new_user(s))
            idle = await make_agent(s, await new_admin(s), await new_user(s))
            idle.status = type(idle.status)("suspended")
        tg = emulator.add_bot(username="agent_shop_bot")
        body = {
            "agentId": str(agent.id),
            "token": tg.token,
            "username": "@agent_shop_bot",
            "markupBps": 1500,
            "reason": "asked by phone",
        }
        created = await client.post("/api/admin/bots/agent", json=body, headers=admin_headers)
        assert created.status_code == 201, created.text
        out = created.json()["data"]
        assert (out["status"], out["ownerAgentId"], out["agentMarkupBps"]) == (
            "inactive",
            str(agent.id),
            1500,
        )
        assert out["approvedAt"] is None and tg.token not in created.text
        url = f"/api/admin/bots/{out['botId']}"
        early = await client.patch(
            url, json={"status": "active", "reason": "go"}, headers=admin_headers
        )
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "AGENT_BOT_NOT_APPROVED"
        assert manager_of(state).bot_for(uuid.UUID(out["botId"])) is None

        bounds = {"minMarkupBps": 500, "maxMarkupBps": 100, "reason": "ok"}
        bad = await client.post(f"{url}/approve", json=bounds, headers=admin_headers)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "MARKUP_OUT_OF_BOUNDS"
        bounds = {"minMarkupBps": 0, "maxMarkupBps": 1000, "reason": "cap 10 %"}
        approved = await client.post(f"{url}/approve", json=bounds, headers=admin_headers)
        assert approved.status_code == 200, approved.text
        data = approved.json()["data"]
        assert data["status"] == "active" and data["agentMarkupBps"] == 1000  # into the bounds
        assert manager_of(state).bot_for(uuid.UUID(out["botId"])) is not None
        assert await answers(emulator, tg.token, user_id=11)
        again = await client.post(f"{url}/approve", json=bounds, headers=admin_headers)
        assert again.status_code == 409

        narrower = {"minMarkupBps": 200, "maxMarkupBps": 500, "reason": "market"}
        moved = await client.put(f"{url}/markup-bounds", json=narrower, headers=admin_headers)
        assert moved.json()["data"]["agentMarkupBps"] == 500
        changes = (await client.get(f"{url}/changes", headers=admin_headers)).json()["data"]
        assert [c["reason"] for c in changes] == ["market", "cap 10 %", "asked by phone"]

        other = emulator.add_bot(username="idle_shop_bot")
        refused = await client.post(
            "/api/admin/bots/agent",
            json={**body, "agentId": str(idle.id), "token": other.token, "username": "idle_bot"},
            headers=admin_headers,
        )
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "AGENT_NOT_ACTIVE"
        operator_bot, _ = await add(client, admin_headers, emulator)
        not_agents = await client.post(
            f"/api/admin/bots/{operator_bot}/approve", json=bounds, headers=admin_headers
        )
        assert not_agents.status_code == 409

    async def test_markup_below_the_floor_is_refused_and_never_applied(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        emulator: TelegramEmulator,
        state: AppState,
    ) -> None:
        """An agent's price is never below the operator's: a negative markup or bound is a
        422 at every door, and nothing changes."""
        from agent.helpers import make_agent, new_admin, new_user
        from tronrent.bot.agent_bots import agent_bots
        from tronrent.bot.errors import MarkupOutOfBounds

        async with state.session_maker() as s, s.begin():
            agent = await make_agent(s, await new_admin(s), await new_user(s))
        tg = emulator.add_bot(username="floor_shop_bot")
        body = {
            "agentId": str(agent.id),
            "token": tg.token,
            "username": "@floor_shop_bot",
            "reason": "asked by phone",
        }
        for bad in (-1, -2000):
            refused = await client.post(
                "/api/admin/bots/agent", json={**body, "markupBps": bad}, headers=admin_headers
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
        created = await client.post("/api/admin/bots/agent", json=body, headers=admin_headers)
        assert created.status_code == 201, created.text
        url = f"/api/admin/bots/{created.json()['data']['botId']}"
        for bounds in (
            {"minMarkupBps": -500, "maxMarkupBps": 1000},
            {"minMarkupBps": 0, "maxMarkupBps": -1},
        ):
            refused = await client.post(
                f"{url}/approve", json={**bounds, "reason": "try"}, headers=admin_headers
            )
            assert refused.status_code == 422, refused.text
        ok = {"minMarkupBps": 0, "maxMarkupBps": 1000, "reason": "ok"}
        assert (await client.post(f"{url}/approve", json=ok, headers=admin_headers)).is_success
        refused = await client.put(
            f"{url}/markup-bounds",
            json={"minMarkupBps": -100, "maxMarkupBps": 1000, "reason": "discount"},
            headers=admin_headers,
        )
        assert refused.status_code == 422, refused.text
        # nor may the agent set it (the bot's /agent bot markup, through the service)
        bot_id = uuid.UUID(created.json()["data"]["botId"])
        async with state.session_maker() as s, s.begin():
            with pytest.raises(MarkupOutOfBounds, match="never below the operator's price"):
                await agent_bots.set_markup(s, user_id=agent.user_id, bot_id=bot_id, markup_bps=-1)
        data = (await client.get(url, headers=admin_headers)).json()["data"]
        assert (data["agentMarkupBps"], data["minMarkupBps"], data["maxMarkupBps"]) == (0, 0, 1000)
        changes = (await client.get(f"{url}/changes", headers=admin_headers)).json()["data"]
        assert [c["reason"] for c in changes] == ["ok", "asked by phone"]
